/**
 * A share's side of the breaker stage: what an instance on a share (other tabs, a Worker's isolates) does beyond its
 * own breakers. Its own chunk, so that an instance without a share never loads it: the share entries
 * (shareAcrossTabs, durableObjectShare) install it; an instance on a share of another kind loads it when it is
 * created, and acts as one without a share until it is there.
 */
import type { BreakerShare, SharedBreakerState } from '../types.js'
import { isOpenState, MAX_RETRY_AFTER_OPEN, type Breaker } from './breaker.js'
import { within } from '../within.js'
import { pastTotal } from '../stages/total-deadline.js'
// Through the core's one module for lazy chunks (src/core.ts says why): this chunk then shares the core's one chunk.
import { aborted, LOST_AFTER, now } from '../core.js'
import type { Aborted, Attempt, Call, Refusal } from '../stages/types.js'
import { probe, type Sharing, type Ticket } from '../stages/breaker.js'

/**
 * Marks a share whose states never carry a hand-set one (a disable, a forced open: a Worker's fleet object knows none).
 * There such a state stays its participant's own until it leaves it, as BreakerControl says ("until close() or reset()");
 * a tab share carries them, so a close in any tab ends them. `Symbol.for`: a share entry and this chunk may be two copies.
 */
export const KEEPS_HAND_SET = Symbol.for('resilient-fetch.share.keepsHandSet')

/** How a share applies another participant's state to an instance (BreakerShare.connect). */
export type Apply = (key: string, state: SharedBreakerState) => void

/**
 * Applies `state` in every instance on a share still there, and forgets those collected. A share holds them weakly: an
 * instance holds its own (see `applier`), so one dropped while the share lives on is not kept. One that throws must
 * neither throw into the share's caller (another tab's message, a report) nor keep the others from the state.
 */
export function applyAll(appliers: WeakRef<Apply>[], key: string, state: SharedBreakerState): void {
  for (const ref of appliers.slice()) {
    const apply = ref.deref()
    if (apply === undefined) appliers.splice(appliers.indexOf(ref), 1)
    else tell(() => apply(key, state))
  }
}

/** States set by hand: BreakerControl's disable() and open(). */
const handSet = (state: string): boolean => state === 'disabled' || state === 'forced-open'

/** One instance's side of `share`: `refuse` is its stage's refusal of an open breaker. */
export const sharing: Sharing = (share, refuse, options) => {
  const maxOpen = options.openDuration.max
  const keepsHandSet = (share as { [KEEPS_HAND_SET]?: boolean })[KEEPS_HAND_SET] === true
  /** Where a call's breaker is among its key's states, once attached. */
  let at: number | undefined
  /**
   * What applies the share's states here, held by this side (the instance's stage holds it): a share holds it weakly
   * (WeakRef), so an instance dropped while the share lives on (made per request or per component) is not kept.
   */
  let applier: Apply | undefined
  /** A key's new breaker starts from what the share knows; true when it took the share's state. */
  const initial = (breaker: Breaker): boolean => {
    let adopted = false
    tell(() => {
      const view = share.initial?.(breaker.key)
      adopted = !!view && adopt(breaker, view, maxOpen)
    })
    return adopted
  }
  const publish = (breaker: Breaker) => tell(() => share.publish?.(breaker.key, breaker.view()))
  return {
    initial,
    // A local change is news for the share.
    publish,
    record(call, failure, slow) {
      // A disabled breaker records nothing (BreakerControl.disable), for the share either.
      if (at === undefined || (call.states[at] as Breaker | undefined)?.state !== 'disabled') tell(() => share.record?.(call.key, failure, slow, call.waitUntil))
    },
    lease: share.acquireProbe && ((breaker, token, attempt, t) => lease(share, refuse, breaker, token, attempt, t)),
    attach(keys, index, late) {
      at = index
      // Keys made before this side was there (it loaded after the instance was made) start from what the share knows, now;
      // a state one entered by itself meanwhile (dated: one never changed is at 0) is news, unless the share's own replaced it.
      for (const entry of keys.values()) {
        const breaker = entry.states[index] as Breaker
        if (!initial(breaker) && late && breaker.view().at) publish(breaker)
      }
      share.connect(
        (applier = (key, state) => {
          // A remote open creates the key (its first call then fails fast); other news of a key unused here is dropped.
          const breaker = (isOpenState(state.state) ? keys.get(key) : keys.find(key))?.states[index] as Breaker | undefined
          if (breaker && !(keepsHandSet && handSet(breaker.state))) adopt(breaker, state, maxOpen)
        }),
      )
    },
    // Whether the share knows a state for the key (a share that throws knows none).
    knows(key) {
      try {
        return share.initial?.(key) !== undefined
      } catch {
        return false
      }
    },
  }
}

/** The newest `at` of a view a breaker did not take for being an open that had ended: no older view is taken after it. */
const passed = new WeakMap<Breaker, number>()

/**
 * Applies another participant's state to `breaker`. Half-open is not adopted (each participant reaches it by
 * itself when openUntil passes; the share leases the probe), nor is a view older than our own state (or than an ended
 * open we passed), nor an open that has ended unless ours is an open too. An adopted open lasts at most
 * max(openDuration.max, 1 h) from its `at`. True when it applied it.
 */
function adopt(breaker: Breaker, view: SharedBreakerState, maxOpen: number): boolean {
  const { state: next, at } = view
  if (next === 'half-open') return false
  const own = breaker.view()
  const newest = Math.max(own.at, passed.get(breaker) ?? -Infinity)
  // Half-open is only noticed, not decided, and dated as the open it follows: another participant's probe result for
  // this open episode wins, but not a state decided before that open was (from its start's ms too, when its date was bumped).
  const probeResult = own.state === 'half-open' && at >= own.at
  // Of the same ms, only a view that beats ours: our own state coming back (a tab's answer to a hello) must not empty the
  // window again. Our own state dated ahead of now was decided before the clock was set back: it is no newer than the view.
  if ((at < newest || (at === own.at && !loses(own, view))) && !probeResult && newest <= now() + LOST_AFTER) return false
  let until = Infinity
  if (isOpenState(next)) {
    const end = view.openUntil
    // Only a forced open may have no end, and any end is capped: a damaged or foreign view must not open this breaker for good.
    if (end === undefined) {
      if (next === 'open') return false
    } else until = Math.min(end, at + Math.max(maxOpen, MAX_RETRY_AFTER_OPEN))
    // An open that has ended ends ours too (the others are past theirs); a breaker not open stays as it is.
    if (until <= now() && !isOpenState(own.state)) return (passed.set(breaker, at), false)
  }
  breaker.restore(next, at, view.openedAt ?? at, until)
  return true
}

/**
 * Whether state `a` loses to `b`, both decided in the same ms: each participant would take the other's and the two
 * would swap for good, so every one keeps the same of the two: the open that ends later (a close ends at once), then
 * any fixed order. A half-open breaker takes a view of its open's ms (see probeResult): that open has ended anyway.
 */
function loses(a: SharedBreakerState, b: SharedBreakerState): boolean {
  const [x, y] = [end(a), end(b)]
  return x < y || (x === y && a.state < b.state)
}

/** Whether `a` is as new as `b` or newer, by `at` then as `loses` orders states of the same ms: what a share remembers. */
export const supersedes = (a: SharedBreakerState, b: SharedBreakerState): boolean => a.at > b.at || (a.at === b.at && !loses(a, b))

/** When a state stops refusing calls: an open's end, never for a forced open with none, at once for the others. */
const end = (s: SharedBreakerState): number => (isOpenState(s.state) ? (s.openUntil ?? Infinity) : -Infinity)

/**
 * One probe for all participants of the share, not one each; a share that fails lets it through. The
 * wait ends at the attempt's abort or the call's total deadline (the pipeline reports the timeout): a
 * share that never answers holds no call. A permit that comes after is given back.
 */
async function lease(share: BreakerShare, refuse: (breaker: Breaker, t: number) => Refusal, breaker: Breaker, token: number, { call, signal }: Attempt, t: number): Promise<Ticket | Refusal | Aborted> {
  const release = () => tell(() => share.releaseProbe?.(breaker.key))
  let late = false
  let granted: boolean | Refusal | Aborted = true
  /** The share's failure, once it failed: the wait's rejection is told from it by identity, whatever either says. */
  let failure: { error: unknown } | undefined
  // The permit lasts as long as the probe may run: until its slot's end, which admit() set at its attempt deadline or the
  // call's total one when that comes first (half-open, retryAfter() tells it); 30 s for a probe with neither.
  const asked = ask(share, breaker.key, breaker.retryAfter(t) ?? 30_000, call.waitUntil)
  // Once we gave up, whatever the share answers is given back: a permit, or (a failure) the probe it records as let through.
  const giveBack = () => late && release()
  // Watched before the wait is: a failure is known by the time the wait rejects with it.
  asked.then((got) => got && giveBack(), (error: unknown) => ((failure = { error }), giveBack()))
  try {
    granted = await within(asked, call.deadline === undefined ? undefined : call.deadline - t, '', signal)
  } catch (error) {
    if (signal?.aborted) granted = aborted(signal.reason)
    else if (failure === undefined || failure.error !== error) granted = pastTotal(call)
    // A share that failed in time lets the probe through, released when it ends: only a wait we gave up is late.
    late = granted !== true
  }
  // The probe's ticket tells the share when it ends, and gives the stage back its token.
  if (granted === true) return probe(breaker, signal, { token, lease: true, end: () => (release(), token) })
  breaker.release(token)
  return granted === false ? refuse(breaker, t) : granted
}

/** The share's answer to a permit request; one that throws at once fails as one that rejects. */
function ask(share: BreakerShare, key: string, ttl: number, waitUntil: Call['waitUntil']): Promise<boolean> {
  try {
    return share.acquireProbe!(key, ttl, waitUntil)
  } catch (error) {
    return Promise.reject(error)
  }
}

/**
 * Tells the share something. A share is advisory: one that throws must neither change the call's
 * outcome nor keep what the attempt holds. No event reports a share's failure (`storeerror` is the
 * store's), so it is swallowed here.
 */
function tell(notice: () => void): void {
  try {
    notice()
  } catch {}
}
