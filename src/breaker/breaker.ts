import type { BreakerControl, BreakerSnapshot, BreakerState, SharedBreakerState } from '../types.js'
import type { NormalizedBreaker } from '../options.js'
import { now } from '../clock.js'
import { LOST_AFTER } from '../deadline.js'
import { fail } from '../schema.js'
import { trips, type Window } from './window.js'
import { consecutiveWindow } from './consecutive.js'
import { countWindow } from './count.js'
import { timeWindow } from './time.js'

/** Returned by `admit` when the breaker refuses the attempt. */
export const REFUSED = -1

/**
 * An upstream's Retry-After opens a breaker for at most an hour (a typo upstream must not silence a key for days),
 * and an open adopted from a share lasts at most that long when the instance's openDuration.max is shorter.
 */
export const MAX_RETRY_AFTER_OPEN = 3_600_000

/** `remote`: the state was applied from another participant of a share. `from` is `to` when an open got a new end. */
export type StateListener = (from: BreakerState, to: BreakerState, remote?: boolean) => void

/** Open on its own or forced open: either way it refuses until its open period ends. */
export const isOpenState = (state: BreakerState) => state === 'open' || state === 'forced-open'

/**
 * The circuit breaker of one key. An admitted attempt holds a token (the breaker's generation
 * at admission); an outcome whose token is stale belongs to an earlier state and moves nothing.
 * Open → half-open happens lazily, when someone looks: no timer outlives a call.
 */
export class Breaker implements BreakerControl {
  readonly #options: NormalizedBreaker
  readonly #onStateChange: StateListener
  readonly #window: Window
  #state: BreakerState = 'closed'
  #generation = 0
  /** Re-opens since the last close; grows the open duration. */
  #reopens = 0
  #probesInFlight = 0
  #probeSuccesses = 0
  /** The running probe's attempt deadline; Infinity when it has none. */
  #probeDeadline = Infinity
  #openedAt: number | undefined
  /** When the current state was entered; in half-open, when its open was (see #to). */
  #changedAt = 0
  /** When an open breaker lets a probe through; Infinity when forced open with no end. */
  #openUntil = 0
  #rejected = 0
  #transitions = 0

  constructor(
    readonly key: string,
    options: NormalizedBreaker,
    onStateChange: StateListener,
  ) {
    this.#options = options
    this.#onStateChange = onStateChange
    const spec = options.window
    this.#window = spec.type === 'consecutive' ? consecutiveWindow() : spec.type === 'count' ? countWindow(spec.size) : timeWindow(spec.duration)
  }

  get state(): BreakerState {
    this.#refresh(now())
    return this.#state
  }

  /** Admits an attempt and returns its token, or REFUSED. `bound` (ms, Infinity for none): how long a probe's slot is its own. */
  admit(t: number, bound: number): number {
    // refuses() brought the state up to `t`.
    if (this.refuses(t)) return REFUSED
    if (this.#state === 'half-open') {
      this.#probesInFlight++
      this.#probeDeadline = t + bound
    }
    return this.#generation
  }

  /** Refuses (and counts it) when `admit` would: lets callers fail fast before queueing. */
  refuses(t: number): boolean {
    // After #refresh an open state has not ended (it would be half-open now).
    this.#refresh(t)
    const refused = isOpenState(this.#state) || this.#probesFull()
    if (refused) this.#rejected++
    return refused
  }

  /**
   * ms the caller should wait before trying again, as CircuitOpenError.retryAfter carries it: until the probe's
   * deadline in half-open, else until the end of the open period; undefined when neither is known.
   */
  retryAfter(t: number): number | undefined {
    const at = this.#state === 'half-open' ? this.#probeDeadline : this.#openUntil
    return at === Infinity ? undefined : Math.max(0, at - t)
  }

  /** The outcome of an admitted attempt; false when its token is stale (it moved nothing). */
  record(token: number, failure: boolean, slow: boolean, t: number): boolean {
    if (token !== this.#generation) return false
    if (this.#state === 'closed') {
      this.#window.record(failure, slow, t)
      if ((failure || slow) && trips(this.#window, this.#options, t)) this.#trip(t)
    } else if (this.#state === 'half-open') {
      this.#probesInFlight--
      // A slow probe says the upstream is still slow: it must not close a breaker slow calls opened.
      if (failure || slow) this.#trip(t)
      else if (++this.#probeSuccesses >= this.#options.successesToClose) this.close()
    }
    return true
  }

  /** The upstream asked for quiet (503/429 with Retry-After): open until `t + ms`, whatever the window says. */
  openFor(ms: number, t: number): void {
    const s = this.#state
    if (s === 'disabled' || s === 'forced-open' || (s === 'open' && this.#openUntil >= t + ms)) return
    this.#openAt(t, t + ms, 'open')
  }

  /** An admitted attempt ended with no outcome to judge (a user abort): frees its probe slot. */
  release(token: number): void {
    if (token === this.#generation && this.#state === 'half-open') this.#probesInFlight--
  }

  open(ms?: number): void {
    // A string would pass `> 0` and be concatenated onto the time: open for good.
    if (ms !== undefined && !(typeof ms == 'number' && ms > 0)) fail('breaker.open(ms)', 'a positive number', ms, typeof ms != 'number')
    const t = now()
    this.#openAt(t, t + (ms ?? Infinity), 'forced-open')
  }

  close(): void {
    this.#reopens = 0
    this.#window.reset()
    this.#to('closed')
  }

  reset(): void {
    this.close()
    this.#rejected = this.#transitions = 0
  }

  disable(): void {
    this.#to('disabled')
  }

  /** Whether any admitted probe is still out: a key with one is not dropped. */
  get busy(): boolean {
    return this.#probesInFlight > 0
  }

  snapshot(t: number): BreakerSnapshot {
    this.#refresh(t)
    const [calls, failures, slowCalls] = this.#window.counts(t)
    // With no calls 0 / 0 is NaN: the rate is 0.
    return { key: this.key, state: this.#state, calls, failures, slowCalls, failureRate: failures / calls || 0, rejected: this.#rejected, transitions: this.#transitions, ...this.#times('nextProbeAt') }
  }

  /** The state as a share publishes it. */
  view(): SharedBreakerState {
    return { state: this.#state, at: this.#changedAt, ...this.#times('openUntil') }
  }

  /**
   * Enters `next` as another participant of a share decided it at `at` (src/breaker/shared.ts decides whether to):
   * an open runs from `openedAt` until `openUntil`.
   */
  restore(next: BreakerState, at: number, openedAt: number, openUntil: number): void {
    if (isOpenState(next)) {
      this.#openedAt = openedAt
      this.#openUntil = openUntil
    }
    // A close adopted from the share forgets what a local close() does: the window, and the open duration's growth.
    if (next === 'closed') {
      this.#reopens = 0
      this.#window.reset()
    }
    this.#to(next, true)
    this.#changedAt = at
  }

  #probesFull(): boolean {
    return this.#state === 'half-open' && this.#probesInFlight >= this.#options.probes
  }

  #refresh(t: number): void {
    // The clock was set back past the open's start (by more than concurrent calls read it apart): the open, and a probe's
    // deadline, end as long after now as they were after that start, not when the clock is back where it was.
    const back = (this.#openedAt ?? t) - t
    if (back > LOST_AFTER) {
      this.#openUntil -= back
      this.#probeDeadline -= back
      this.#openedAt = t
    }
    if (isOpenState(this.#state) && t >= this.#openUntil) this.#to('half-open')
    // Every probe slot still taken LOST_AFTER past the last probe's attempt deadline: that probe was lost (a Worker's
    // request context that ended drops its fetch and its timer), and a probe past its deadline failed (a timeout). Not
    // re-opened, the breaker would refuse every call for good; its late outcome is stale and moves nothing.
    else if (this.#probesFull() && t > this.#probeDeadline + LOST_AFTER) this.#trip(t)
  }

  #openAt(t: number, until: number, next: BreakerState): void {
    this.#openedAt = t
    this.#openUntil = until
    this.#to(next)
  }

  #trip(t: number): void {
    const d = this.#options.openDuration
    const grown = Math.min(d.max, d.base * d.multiplier ** this.#reopens++)
    // The window keeps what opened the breaker (it ages out) and is only emptied on close.
    this.#openAt(t, t + grown * (1 - d.jitter * Math.random()), 'open')
  }

  /** openedAt while open or half-open, and the end of the open period (as `end`) while open. */
  #times(end: 'openUntil' | 'nextProbeAt') {
    const open = isOpenState(this.#state)
    const times: { openedAt?: number | undefined; openUntil?: number; nextProbeAt?: number } = {}
    if (open || this.#state === 'half-open') times.openedAt = this.#openedAt
    if (open && this.#openUntil !== Infinity) times[end] = this.#openUntil
    return times
  }

  #to(next: BreakerState, remote?: boolean): void {
    const from = this.#state
    this.#generation++
    this.#probesInFlight = this.#probeSuccesses = 0
    this.#probeDeadline = Infinity
    // Open again with a new end (open(ms) on a forced open, a longer Retry-After): no transition, but news for a share.
    if (from === next && !isOpenState(next)) return
    this.#state = next
    // Dated after the state it replaces, within one ms too, so a share takes it as the later (a date ahead of now by more
    // than LOST_AFTER was set before the clock went back). Half-open is only noticed, not decided: it keeps its open's date.
    const t = now()
    if (next !== 'half-open') this.#changedAt = this.#changedAt >= t && this.#changedAt <= t + LOST_AFTER ? this.#changedAt + 1 : t
    if (from !== next) this.#transitions++
    this.#onStateChange(from, next, remote)
  }
}
