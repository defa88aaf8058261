import type { BreakerControl, BreakerShare, RequestInput } from '../types.js'
import type { NormalizedBreaker } from '../options.js'
import { Breaker, isOpenState, MAX_RETRY_AFTER_OPEN, REFUSED } from '../breaker/breaker.js'
import { circuitOpenError } from '../errors.js'
import { parseRetryAfter } from '../retry.js'
import type { Keys } from './keys.js'
import { probing, reachedNetwork, refusal, type Gate, type Refusal, type Runtime } from './types.js'
import type { Lease } from '../breaker/probe-lease.js'


/** A breaker token, or a probe that holds the share's lease: `end` tells the share it ended and returns the token. */
export type Ticket = number | { token: number; lease: true; end(): number }

/** The share's probe lease: its chunk installs it (src/breaker/probe-lease.ts), once, for every instance. */
let lease: Lease | undefined
export const useLease = (given: Lease): void => void (lease = given)

/** The breaker gate, with the index of its state in a key's states (for `attach`). */
export interface BreakerGate extends Gate<Breaker, Ticket> {
  /**
   * Connects the share (other tabs, isolates) once the chain is built; returns `rf.breaker(target)`:
   * the breaker of a key, or of the key a URL or Request maps to (`keyOf`).
   */
  attach(keys: Keys, index: number, keyOf: (target: RequestInput) => string | undefined): (target: RequestInput) => BreakerControl | undefined
}

/**
 * The breaker + probe lease gate: one breaker per key; refuses at once while open; in half-open
 * lends at most `probes` attempts a slot (with a share: one probe for all participants).
 * Learns from each admitted attempt's outcome; a 503/429 with Retry-After that is judged a failure opens it until then.
 */
export function breakerStage(options: NormalizedBreaker | false, share: BreakerShare | undefined, runtime: Runtime): BreakerGate | undefined {
  if (!options) return undefined
  const { events, now } = runtime
  const { slowCall, retryAfter } = options

  function refuse(breaker: Breaker, t: number): Refusal {
    events.emit('reject', { key: breaker.key, reason: 'open' })
    return refusal('open', circuitOpenError(breaker.key, breaker.retryAfter(t)))
  }

  // A share that leases probes: the lease's chunk loads now, with the instance, unless a share entry installed it. No
  // probe waits for it: until it is there (a chunk that fails to load), probes go through, as when the share fails.
  const leases = share?.acquireProbe !== undefined
  if (leases && !lease) import('../breaker/probe-lease.js').then((m) => m.installLease(), () => {})

  /** A key's breaker: its state changes are events, and news for the share; it starts from what the share knows. */
  function forKey(key: string): Breaker {
    const breaker = new Breaker(key, options as NormalizedBreaker, (from, to, remote) => {
      events.emit('statechange', { key, from, to })
      if (!remote) tell(() => share?.publish?.(key, breaker.view()))
    })
    tell(() => {
      const initial = share?.initial?.(key)
      if (initial) breaker.adopt(initial)
    })
    return breaker
  }

  return {
    name: 'breaker',
    forKey,
    // A probe in flight, or a breaker not closed: dropping it would send the next call to an upstream it keeps away (a forced open, an outage switch, most of all).
    busy: (breaker) => breaker.busy || breaker.state !== 'closed',
    report: (breaker, snapshot, t) => void snapshot.breakers.push(breaker.snapshot(t)),
    refuses: (breaker, _call, t) => (breaker.refuses(t) ? refuse(breaker, t) : undefined),
    admit(breaker, attempt, t) {
      const token = breaker.admit(t, attempt.call.timeout.attempt)
      if (token === REFUSED) return refuse(breaker, t)
      // Admitted with a probe out (this one, at least): half-open, so a probe.
      if (!breaker.busy) return token
      return leases && lease ? lease(share!, refuse, breaker, token, attempt, t) : probe(breaker, attempt.signal, token)
    },
    settle(breaker, { call }, ticket, outcome) {
      const token = typeof ticket === 'number' ? ticket : ticket.end()
      if (!reachedNetwork(outcome)) return breaker.release(token)
      const end = now()
      const slow = slowCall !== undefined && outcome.duration > slowCall.duration
      // A stale token moves nothing, a Retry-After open included; one that trips the breaker still extends it.
      const current = breaker.record(token, outcome.failure, slow, end)
      if (share?.record !== undefined) tell(() => share.record!(call.key, outcome.failure, slow, call.waitUntil))
      // Only a response isFailure judged a failure may open it: the default judges 503 and 429 so, an owner may forgive one.
      const quiet = current && retryAfter && outcome.kind === 'response' && outcome.failure ? quietFor(outcome.response, end) : 0
      if (quiet > 0) breaker.openFor(quiet, end)
    },
    attach: (keys, index, keyOf) => attachTo(keys, index, keyOf, share),
  }
}

/** Marks the attempt of `signal` as `breaker`'s probe (see `probing`); returns its ticket. */
export function probe(breaker: Breaker, signal: AbortSignal | undefined, ticket: Ticket): Ticket {
  if (signal !== undefined) probing.set(signal, breaker)
  return ticket
}

/** Whether the share knows a state for `key` (a share that throws knows none). */
function knownTo(share: BreakerShare | undefined, key: string): boolean {
  try {
    return share?.initial?.(key) !== undefined
  } catch {
    return false
  }
}

/**
 * Tells the share something. A share is advisory: one that throws must neither change the call's
 * outcome nor keep what the attempt holds. No event reports a share's failure (`storeerror` is the
 * store's), so it is swallowed here.
 */
export function tell(notice: () => void): void {
  try {
    notice()
  } catch {}
}

function isAbsoluteUrl(value: string): boolean {
  try {
    new URL(value)
    return true
  } catch {
    return false
  }
}

/** How long the upstream asked for quiet (a 503/429 with Retry-After), at most an hour; 0 when it did not. */
function quietFor({ status, headers }: Response, end: number): number {
  return status === 503 || status === 429 ? Math.min(parseRetryAfter(headers.get('retry-after'), end) ?? 0, MAX_RETRY_AFTER_OPEN) : 0
}

/** Connects the share to the keys' breakers and returns `rf.breaker(target)`. */
function attachTo(keys: Keys, index: number, keyOf: (target: RequestInput) => string | undefined, share: BreakerShare | undefined) {
  share?.connect((key, state) => {
    // A remote open creates the key (its first call then fails fast); other news of a key unused here is dropped.
    ;((isOpenState(state.state) ? keys.get(key) : keys.find(key))?.states[index] as Breaker | undefined)?.adopt(state)
  })
  // A key only the share knows yet (open in another tab, or across the fleet) is created, so it shows.
  const breakerOf = (key: string) => (keys.find(key) ?? (knownTo(share, key) ? keys.get(key) : undefined))?.states[index] as Breaker | undefined
  return (target: RequestInput): BreakerControl | undefined => {
    if (typeof target === 'string') {
      const found = breakerOf(target)
      // A string that is not an absolute URL is a key, never resolved against the page.
      if (found !== undefined || !isAbsoluteUrl(target)) return found
    }
    const key = keyOf(target)
    return key === undefined ? undefined : breakerOf(key)
  }
}
