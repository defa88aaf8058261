/**
 * `durableObjectShare()`: one breaker per upstream across every isolate of a Worker, held by a
 * BreakerCoordinator Durable Object per key. Nothing is awaited on the hot path but a half-open
 * probe's permit; the object being slow or down leaves each isolate on its own breaker.
 */
import type { BreakerShare, SharedBreakerState } from '../types.js'
import { messageRequest, readAnswer, type CoordinatorAnswer, type CoordinatorMessage, type FleetOptions } from './protocol.js'
import { duration, positiveInteger, struct, withMethods, type Check } from '../schema.js'
import { now } from '../clock.js'
import { applyAll, KEEPS_HAND_SET, sharing, type Apply } from '../breaker/shared.js'
import { useSharing } from '../stages/breaker.js'

/** The part of a DurableObjectNamespace binding the share uses. */
export interface CoordinatorNamespace {
  idFromName(name: string): unknown
  get(id: never): { fetch(input: string, init?: RequestInit): Promise<Response> }
}

export interface DurableObjectShareOptions {
  /** The fleet's breaker: give it the same settings as the instance's own `breaker`. */
  breaker?: {
    /** Failures across the fleet within `window` that open the breaker. @default 5 */
    failureThreshold?: number
    /** The failure window, ms. @default 30_000 */
    window?: number
    /** How long the fleet's breaker stays open, ms. @default 30_000 */
    openDuration?: number
    /** Probes the whole fleet sends at once in half-open. @default 1 */
    probes?: number
    /** Successful probes that close the breaker. @default 1 */
    successesToClose?: number
  }
  /**
   * Distinct isolates whose failures must be in the fleet's window before the fleet's breaker opens:
   * one isolate on a bad network path opens only its own breaker. 1: any isolate's failures count
   * toward opening the fleet's. @default 2
   */
  minReporters?: number
  /** Longest wait for the object, ms; a slower or failed answer leaves the isolate on its own breaker. @default 500 */
  timeout?: number
  /**
   * An isolate asks the object for its state when its last answer is older than this, ms; refused a
   * probe permit, it asks again no sooner (unless the refusal ends before). @default 2_000
   */
  syncInterval?: number
  /** After a failed call, the isolate leaves that key's object alone for this long, ms (the other keys' objects are asked as usual). @default 5_000 */
  retryInterval?: number
}

/** A `BreakerShare` for a Worker's isolates. */
export interface DurableObjectShare extends BreakerShare {
  connect(apply: (key: string, state: SharedBreakerState) => void): void
  initial(key: string): SharedBreakerState | undefined
  publish(key: string, state: SharedBreakerState): void
  record(key: string, failure: boolean, slow: boolean, waitUntil?: (promise: Promise<unknown>) => void): void
  acquireProbe(key: string, ttl: number, waitUntil?: (promise: Promise<unknown>) => void): Promise<boolean>
  releaseProbe(key: string): void
}

interface KeyState {
  /** Failures since the last message (probes excluded): only failures move a closed fleet breaker. */
  failures: number
  ends: [number, boolean | null][]
  /** When the message on its way for this key was sent (0: none): outcomes wait for it, and go in the next one. */
  sendingSince: number
  /** When the object last answered. */
  syncedAt: number
  /** The last view heard from the object, applied only when it changes. */
  heard: SharedBreakerState | undefined
  /** Until then, acquireProbe refuses without asking (the object just refused). */
  refusedUntil: number
  /** Until then this key's object is taken to be unreachable: each key is its own object. */
  downUntil: number
  /** Probes this isolate let through and not yet ended, oldest first. */
  held: Probe[]
}

/** A probe this isolate let through: the object's permit for it (none: closed, or not heard in time), and how it ended. */
interface Probe {
  permit: number | undefined
  verdict?: boolean | null
}

/**
 * Tells this isolate's reports apart from the others' (the quorum counts isolates): one per module, so every share made
 * in the isolate sends the same. Drawn with the first message, in a handler, not as the share is made: that is in global
 * scope (once per isolate), where a Worker is not to generate random values (workerd refuses crypto.getRandomValues there).
 */
let isolate: string | undefined
const isolateId = (): string => (isolate ??= `${now().toString(36)}-${Math.random().toString(36).slice(2, 12)}`)

/** Messages one flush sends before it leaves the rest to the next outcome's flush. */
const MESSAGES_PER_FLUSH = 4
/** Keys followed by one isolate; the least recently used idle one goes first. */
const MAX_KEYS = 1_000

/**
 * Shares every breaker of an instance with the other isolates of the Worker through the
 * `BreakerCoordinator` Durable Object bound as `namespace`:
 * `createResilientFetch({ share: durableObjectShare(env.BREAKERS, { breaker: { failureThreshold: 5 } }) })`.
 * Create it once per isolate (module scope), not per request.
 *
 * - Each isolate keeps its own breaker on the hot path and reports outcomes to the key's object in
 *   the background (pass the request's `ctx.waitUntil` as `resilience.waitUntil`): a failure or a
 *   probe's end is sent at once (successes are not sent: they move nothing); one message per key in
 *   flight, the rest batched behind it.
 * - The object opens on the fleet's combined failures, once they come from `minReporters` isolates
 *   (each isolate's own breaker still opens on its own failures, for itself). Every answer carries its state, which the
 *   isolate applies; an isolate with traffic also asks for it when its last answer is older than
 *   `syncInterval`.
 * - The object's alarm ends the open window; in half-open the object grants `probes` permits for the
 *   whole fleet, and a probe's outcome closes or re-opens it (with no permit out, reported failures count as when closed).
 * - Fail safe: every call is bounded by `timeout`; a failed one makes the isolate use its own
 *   breaker alone for that key (its probe goes through) for `retryInterval`. A permit that arrives
 *   after the probe went through without it is the probe's: the object hears how the probe ended.
 *
 * Slow calls and forced opens stay local to the isolate that saw them. A breaker disabled or forced open by hand is the
 * isolate's own until it leaves that state: the fleet's state does not replace it, and a disabled one reports no failures.
 */
export function durableObjectShare(namespace: CoordinatorNamespace, options?: DurableObjectShareOptions): DurableObjectShare {
  const share = new FleetShare(namespace, checkOptions(namespace, options))
  // The breaker stage's side of a share comes with this entry: no instance on this share loads it apart.
  useSharing(sharing)
  return share
}

class FleetShare implements DurableObjectShare {
  /** The object knows no disable nor forced open (they stay local): its states never replace them. */
  readonly [KEEPS_HAND_SET] = true
  private readonly fleet: FleetOptions
  private readonly keys = new Map<string, KeyState>()
  /** Every instance made on this share (one per isolate, given to each instance it makes) applies the fleet's states; a dropped one goes. */
  private readonly appliers: WeakRef<Apply>[] = []
  /** A probe that just ended, waiting for its outcome in the record() that follows in the same turn. */
  private ended: { key: string; k: KeyState; probe: Probe } | undefined

  constructor(
    private readonly namespace: CoordinatorNamespace,
    private readonly settings: Settings,
  ) {
    this.fleet = settings.fleet
  }

  connect(apply: (key: string, state: SharedBreakerState) => void): void {
    // Weakly: the instance holds it (src/breaker/shared.ts), and this share may outlive instances made per request.
    this.appliers.push(new WeakRef(apply))
  }

  initial(key: string): SharedBreakerState | undefined {
    const view = this.keys.get(key)?.heard
    if (view === undefined || view.state === 'closed') return undefined
    return view.state === 'half-open' ? join(view) : view
  }

  publish(key: string): void {
    // The local breaker moved: hear the fleet's answer with the report that follows in this turn.
    const k = this.keys.get(key)
    if (k !== undefined) k.syncedAt = 0
  }

  record(key: string, failure: boolean, _slow: boolean, waitUntil?: (promise: Promise<unknown>) => void): void {
    const k = this.entry(key)
    const ended = this.ended
    if (ended !== undefined && ended.key === key) {
      this.ended = undefined
      end(k, ended.probe, failure)
    } else if (failure) {
      k.failures++
    }
    const t = now()
    // Unreachable, the object has no say: outcomes are the local breaker's alone, never sent later to a fleet breaker that moved on.
    if (t < k.downUntil) return drop(k)
    if (this.sending(k, t)) return
    if (k.failures === 0 && k.ends.length === 0 && t - k.syncedAt < this.settings.syncInterval) return
    const sent = this.flush(key, k)
    waitUntil?.(sent)
  }

  async acquireProbe(key: string, ttl: number, waitUntil?: (promise: Promise<unknown>) => void): Promise<boolean> {
    const k = this.entry(key)
    const t = now()
    // Rejecting lets the local probe through: never fail closed on the object's account.
    if (t < k.downUntil) throw through(k, new Error(`BreakerCoordinator for ${key} unreachable`))
    if (t < k.refusedUntil) return false
    const asked = this.send(key, { options: this.fleet, reporter: isolateId(), acquire: Math.max(1, Math.ceil(ttl)) })
    let answer: CoordinatorAnswer
    try {
      answer = await this.bounded(key, k, asked)
    } catch (error) {
      // Given up on: the probe goes through, and takes the permit should one still arrive.
      const probe: Probe = { permit: undefined }
      const adopted = this.late(key, k, probe, asked)
      waitUntil?.(adopted)
      throw through(k, error, probe)
    }
    this.hear(key, k, answer.view, true)
    const grant = answer.grant
    if (grant === undefined) throw through(k, new Error(`BreakerCoordinator for ${key} sent no grant`))
    if (grant.granted) {
      k.held.push({ permit: grant.permit })
      return true
    }
    // Remembered until it could change, or for syncInterval at most: how soon a close elsewhere is heard.
    k.refusedUntil = Math.min(grant.retryAt, now() + this.settings.syncInterval)
    return false
  }

  releaseProbe(key: string): void {
    const k = this.keys.get(key)
    const probe = k?.held.shift()
    if (k === undefined || probe === undefined) return
    // A probe released before, still waiting: its record() would have come before this release (it follows at once).
    this.noVerdict()
    this.ended = { key, k, probe }
    // No record() in this turn means the probe had no verdict (a user abort): just free the permit.
    queueMicrotask(() => this.ended?.probe === probe && this.noVerdict())
  }

  /** The probe that ended with no record() after it: its permit is only freed. */
  private noVerdict(): void {
    const ended = this.ended
    if (ended === undefined) return
    this.ended = undefined
    const { key, k, probe } = ended
    end(k, probe, null)
    const t = now()
    if (!this.sending(k, t) && t >= k.downUntil && k.ends.length > 0) void this.flush(key, k)
  }

  /**
   * The answer to a permit request given up on, which the probe went through without, awaited one more
   * `timeout`: a permit in it is the probe's, so the object hears how the probe ended instead of
   * holding the permit until it expires.
   */
  private async late(key: string, k: KeyState, probe: Probe, asked: Promise<CoordinatorAnswer>): Promise<void> {
    let answer: CoordinatorAnswer
    try {
      answer = await this.bounded(key, k, asked)
    } catch {
      return
    }
    this.hear(key, k, answer.view, true)
    const permit = answer.grant?.granted === true ? answer.grant.permit : undefined
    if (permit === undefined) return
    // It answered: talk to it again, or the probe's end could not be sent.
    k.downUntil = 0
    if (k.held.includes(probe)) {
      probe.permit = permit
      return
    }
    // The probe ended while the answer was on its way: its verdict (or none) goes against the permit now.
    try {
      this.hear(key, k, (await this.call(key, k, { options: this.fleet, reporter: isolateId(), ends: [[permit, probe.verdict ?? null]] })).view)
    } catch {
      // Down after all: the permit expires by itself.
    }
  }

  private entry(key: string): KeyState {
    const keys = this.keys
    let k = keys.get(key)
    if (k !== undefined) {
      keys.delete(key)
      keys.set(key, k)
      return k
    }
    // Room is made before the new entry is in: it is never the one evicted, nor a busy one (more keys then, until one is idle).
    if (keys.size >= MAX_KEYS) {
      for (const [old, state] of keys) {
        if (state.sendingSince === 0 && state.held.length === 0) {
          keys.delete(old)
          break
        }
      }
    }
    k = { failures: 0, ends: [], sendingSince: 0, syncedAt: 0, heard: undefined, refusedUntil: 0, downUntil: 0, held: [] }
    keys.set(key, k)
    return k
  }

  /** Sends one message to the key's object, bounded by the timeout. */
  private call(key: string, k: KeyState, message: CoordinatorMessage): Promise<CoordinatorAnswer> {
    return this.bounded(key, k, this.send(key, message))
  }

  private async send(key: string, message: CoordinatorMessage): Promise<CoordinatorAnswer> {
    const stub = this.namespace.get(this.namespace.idFromName(key) as never)
    const response = await stub.fetch(...messageRequest(message))
    if (!response.ok) throw new Error(`BreakerCoordinator for ${key} answered ${response.status}`)
    const answer = readAnswer(await response.json())
    if (answer === undefined) throw new Error(`BreakerCoordinator for ${key} sent a malformed answer`)
    return answer
  }

  /** Waits `timeout` at most for an answer; a slow or failed one leaves this key (only) on its own breaker for `retryInterval`. */
  private async bounded(key: string, k: KeyState, answer: Promise<CoordinatorAnswer>): Promise<CoordinatorAnswer> {
    const { timeout, retryInterval } = this.settings
    let timer: ReturnType<typeof setTimeout> | undefined
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`BreakerCoordinator for ${key} did not answer within ${timeout} ms`)), timeout)
    })
    try {
      return await Promise.race([answer, late])
    } catch (error) {
      k.downUntil = now() + retryInterval
      throw error
    } finally {
      clearTimeout(timer)
    }
  }

  /** `asking`: the answer to a permit request, which a half-open breaker makes; joining it would end the half-open its probe runs in. */
  private hear(key: string, k: KeyState, view: SharedBreakerState, asking = false): void {
    k.syncedAt = now()
    const last = k.heard
    k.heard = view
    if (last !== undefined && last.state === view.state && last.at === view.at) return
    // A closed object is where every breaker starts: applying the first one would only empty the local window.
    if (last === undefined && view.state === 'closed') return
    applyAll(this.appliers, key, view.state === 'half-open' && !asking && (last === undefined || last.state === 'closed') ? join(view) : view)
  }

  /**
   * Sends this key's outcomes, then what piled up meanwhile, one message at a time and a few at most:
   * the loop runs in one request's waitUntil, which the runtime ends after a while.
   */
  private async flush(key: string, k: KeyState): Promise<void> {
    try {
      for (let n = 0; n === 0 || (n < MESSAGES_PER_FLUSH && (k.failures > 0 || k.ends.length > 0)); n++) {
        if (now() < k.downUntil) {
          drop(k)
          return
        }
        const message: CoordinatorMessage = { options: this.fleet, reporter: isolateId(), failures: k.failures }
        if (k.ends.length > 0) message.ends = k.ends
        drop(k)
        k.sendingSince = now()
        this.hear(key, k, (await this.call(key, k, message)).view)
      }
    } catch {
      // The object is down or slow: its share of the decision falls back to the local breaker, with what piled up meanwhile.
      drop(k)
    } finally {
      k.sendingSince = 0
    }
  }

  /** Whether a message is on its way; one older than the timeout died with its request's context. */
  private sending(k: KeyState, t: number): boolean {
    return k.sendingSince !== 0 && t - k.sendingSince <= this.settings.timeout
  }
}

/** A probe goes through without the object's permit (for now): it is followed like any other. */
function through(k: KeyState, error: unknown, probe: Probe = { permit: undefined }): unknown {
  k.held.push(probe)
  return error
}

/**
 * A probe ended: its verdict goes to the object with its permit (null: no verdict, the permit is only
 * freed); without a permit, a failure counts as any other.
 */
function end(k: KeyState, probe: Probe, verdict: boolean | null): void {
  probe.verdict = verdict
  if (probe.permit !== undefined) k.ends.push([probe.permit, verdict])
  else if (verdict === true) k.failures++
}

function drop(k: KeyState): void {
  k.failures = 0
  k.ends = []
}

/**
 * A breaker never adopts half-open (it reaches it from open by itself). An isolate that missed the
 * open gets an open that ends now, so its next call asks the object for a permit like the others.
 */
function join(view: SharedBreakerState): SharedBreakerState {
  return { state: 'open', at: view.at, openedAt: view.openedAt ?? view.at, openUntil: now() + 1 }
}

interface Settings {
  fleet: FleetOptions
  timeout: number
  syncInterval: number
  retryInterval: number
}

/** A BreakerCoordinator namespace binding: the methods the share calls. */
export const coordinatorNamespace = withMethods<CoordinatorNamespace>('a Durable Object namespace binding (class BreakerCoordinator)', ['idFromName', 'get'])

/** Whole ms a timer may wait, as the instance's own durations: past that setTimeout fires at once, and an alarm cannot be set. */
const wholeDuration: Check<number> = (value, path) => duration(positiveInteger(value, path), path)

/** durableObjectShare's options: each one's check and default (the fleet breaker's as the instance's own). */
export const durableObjectShareSchema = struct({
  breaker: [
    struct({
      failureThreshold: [positiveInteger, 5],
      window: [wholeDuration, 30_000],
      openDuration: [wholeDuration, 30_000],
      probes: [positiveInteger, 1],
      successesToClose: [positiveInteger, 1],
    }),
    {},
  ],
  minReporters: [positiveInteger, 2],
  timeout: [wholeDuration, 500],
  syncInterval: [positiveInteger, 2_000],
  retryInterval: [positiveInteger, 5_000],
})

function checkOptions(namespace: CoordinatorNamespace, options: DurableObjectShareOptions | undefined): Settings {
  coordinatorNamespace(namespace, 'durableObjectShare(namespace): namespace')
  const { breaker, minReporters, ...intervals } = durableObjectShareSchema(options, 'durableObjectShare options')
  return { fleet: { ...breaker, minReporters }, ...intervals }
}
