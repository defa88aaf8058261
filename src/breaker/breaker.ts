import type { BreakerControl, BreakerSnapshot, BreakerState, SharedBreakerState } from '../types.js'
import type { NormalizedBreaker } from '../options.js'
import { now } from '../clock.js'
import { trips, type Window } from './window.js'
import { ConsecutiveWindow } from './consecutive.js'
import { CountWindow } from './count.js'
import { TimeWindow } from './time.js'

/** Returned by `admit` when the breaker refuses the attempt. */
export const REFUSED = -1

/** `remote`: the state was applied from another participant of a share. */
export type StateListener = (breaker: Breaker, from: BreakerState, to: BreakerState, remote: boolean) => void

function createWindow(spec: NormalizedBreaker['window']): Window {
  if (spec.type === 'consecutive') return new ConsecutiveWindow()
  if (spec.type === 'count') return new CountWindow(spec.size)
  return new TimeWindow(spec.duration)
}

/**
 * The circuit breaker of one key. An admitted attempt holds a token (the breaker's generation
 * at admission); an outcome whose token is stale belongs to an earlier state and moves nothing.
 * Open → half-open happens lazily, when someone looks: no timer outlives a call.
 */
export class Breaker implements BreakerControl {
  private current: BreakerState = 'closed'
  private generation = 0
  private readonly window: Window
  /** Re-opens since the last close; grows the open duration. */
  private reopens = 0
  private probesInFlight = 0
  private probeSuccesses = 0
  private probeDeadline: number | undefined
  openedAt: number | undefined
  /** When the current state was entered. */
  changedAt = 0
  /** When an open breaker lets a probe through; Infinity when forced open with no end. */
  openUntil = 0
  rejected = 0
  transitions = 0

  constructor(
    readonly key: string,
    private readonly options: NormalizedBreaker,
    private readonly onStateChange: StateListener,
  ) {
    this.window = createWindow(options.window)
  }

  get state(): BreakerState {
    this.refresh(now())
    return this.current
  }

  /** Admits an attempt and returns its token, or REFUSED. `attemptTimeout` bounds a probe's slot for retryAfter. */
  admit(t: number, attemptTimeout: number | false): number {
    const s = this.current
    if (s === 'closed' || s === 'disabled') return this.generation
    if (s !== 'half-open') {
      if (t < this.openUntil) {
        this.rejected++
        return REFUSED
      }
      this.to('half-open')
    }
    if (this.probesInFlight >= this.options.probes) {
      this.rejected++
      return REFUSED
    }
    this.probesInFlight++
    this.probeDeadline = attemptTimeout === false ? undefined : t + attemptTimeout
    return this.generation
  }

  /** Refuses (and counts it) when `admit` would: lets callers fail fast before queueing. */
  refuses(t: number): boolean {
    const s = this.current
    const refused =
      ((s === 'open' || s === 'forced-open') && t < this.openUntil) ||
      (s === 'half-open' && this.probesInFlight >= this.options.probes)
    if (refused) this.rejected++
    return refused
  }

  /** ms the caller should wait before trying again, as CircuitOpenError.retryAfter carries it. */
  retryAfter(t: number): number | undefined {
    if (this.current === 'half-open') return this.probeDeadline === undefined ? undefined : Math.max(0, this.probeDeadline - t)
    return this.openUntil === Infinity ? undefined : Math.max(0, this.openUntil - t)
  }

  /**
   * When the breaker will next admit a probe (ms epoch): `t` while it admits calls, the end of the open
   * period while open, the running probe's attempt deadline while half-open with every slot taken;
   * undefined when no time is known (forced open with no end, a probe with no deadline).
   */
  nextProbeAt(t: number): number | undefined {
    this.refresh(t)
    const s = this.current
    if (s === 'open' || s === 'forced-open') return this.openUntil === Infinity ? undefined : this.openUntil
    if (s === 'half-open' && this.probesInFlight >= this.options.probes) return this.probeDeadline
    return t
  }

  /** The outcome of an admitted attempt. */
  record(token: number, failure: boolean, slow: boolean, t: number): void {
    if (token !== this.generation) return
    const s = this.current
    if (s === 'closed') {
      this.window.record(failure, slow, t)
      if ((failure || slow) && this.tripped(t)) this.trip(t)
    } else if (s === 'half-open') {
      this.probesInFlight--
      // A slow probe says the upstream is still slow: it must not close a breaker slow calls opened.
      if (failure || slow) this.trip(t)
      else if (++this.probeSuccesses >= this.options.successesToClose) this.close()
    }
  }

  /** An admitted attempt ended with no outcome to judge (a user abort): frees its probe slot. */
  release(token: number): void {
    if (token === this.generation && this.current === 'half-open') this.probesInFlight--
  }

  /** The upstream asked for quiet (503/429 with Retry-After): open until then, whatever the window says. */
  openFor(ms: number, t: number): void {
    const s = this.current
    if (s === 'disabled' || s === 'forced-open') return
    const until = t + ms
    if (s === 'open' && until <= this.openUntil) return
    this.openUntil = until
    if (s !== 'open') {
      this.openedAt = t
      this.to('open')
    }
  }

  open(ms?: number): void {
    if (ms !== undefined && !(ms > 0)) throw new RangeError(`breaker(${JSON.stringify(this.key)}).open(ms): ms must be a positive number, got ${ms}`)
    const t = now()
    this.openedAt = t
    this.openUntil = ms === undefined ? Infinity : t + ms
    this.to('forced-open')
  }

  close(): void {
    this.reopens = 0
    this.window.reset()
    this.to('closed')
  }

  reset(): void {
    this.close()
    this.rejected = 0
    this.transitions = 0
  }

  disable(): void {
    this.to('disabled')
  }

  /** Whether any admitted probe is still out: a key with one is not dropped from the registry. */
  get busy(): boolean {
    return this.probesInFlight > 0
  }

  snapshot(t: number): BreakerSnapshot {
    this.refresh(t)
    this.window.refresh(t)
    const { calls, failures, slowCalls } = this.window
    const s = this.current
    const open = s === 'open' || s === 'forced-open'
    return {
      key: this.key,
      state: s,
      calls,
      failures,
      slowCalls,
      failureRate: calls === 0 ? 0 : failures / calls,
      rejected: this.rejected,
      transitions: this.transitions,
      ...(open || s === 'half-open' ? { openedAt: this.openedAt } : {}),
      ...(open && this.openUntil !== Infinity ? { nextProbeAt: this.openUntil } : {}),
    }
  }

  private refresh(t: number): void {
    const s = this.current
    if ((s === 'open' || s === 'forced-open') && t >= this.openUntil) this.to('half-open')
  }

  private tripped(t: number): boolean {
    return trips(this.window, this.options, t)
  }

  private trip(t: number): void {
    const d = this.options.openDuration
    const grown = Math.min(d.max, d.base * d.multiplier ** this.reopens)
    this.reopens++
    this.openedAt = t
    this.openUntil = t + grown * (1 - d.jitter * Math.random())
    // The window keeps what opened the breaker (it ages out) and is only emptied on close.
    this.to('open')
  }

  /** Whether an attempt admitted with `token` was admitted in the current state. */
  holds(token: number): boolean {
    return token === this.generation
  }

  /** Whether `token` holds a half-open probe slot. */
  probing(token: number): boolean {
    return token === this.generation && this.current === 'half-open'
  }

  /** The state as a share publishes it. */
  view(): SharedBreakerState {
    const s = this.current
    const open = s === 'open' || s === 'forced-open'
    return {
      state: s,
      at: this.changedAt,
      ...(open || s === 'half-open' ? { openedAt: this.openedAt } : {}),
      ...(open && this.openUntil !== Infinity ? { openUntil: this.openUntil } : {}),
    }
  }

  /**
   * Applies another participant's state. Half-open is not adopted (each participant reaches it by
   * itself when openUntil passes; the share leases the probe), nor is a view older than our own state.
   */
  adopt(view: SharedBreakerState): void {
    if (view.state === 'half-open') return
    // Half-open is only noticed, not decided: another participant's probe result for this open episode wins.
    const probeResult = this.current === 'half-open' && view.at >= (this.openedAt ?? 0)
    if (view.at < this.changedAt && !probeResult) return
    if (view.state === 'open' || view.state === 'forced-open') {
      this.openedAt = view.openedAt ?? view.at
      this.openUntil = view.openUntil ?? Infinity
      if (view.state === 'open' && this.openUntil <= now()) return
    }
    if (view.state === 'closed') this.window.reset()
    this.to(view.state, true)
    this.changedAt = view.at
  }

  private to(state: BreakerState, remote = false): void {
    const from = this.current
    this.generation++
    this.probesInFlight = 0
    this.probeSuccesses = 0
    this.probeDeadline = undefined
    if (from === state) return
    this.current = state
    this.changedAt = now()
    this.transitions++
    this.onStateChange(this, from, state, remote)
  }
}
