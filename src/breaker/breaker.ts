import type { BreakerControl, BreakerSnapshot, BreakerState, SharedBreakerState } from '../types.js'
import type { NormalizedBreaker } from '../options.js'
import { now } from '../clock.js'
import { fail } from '../schema.js'
import { CALLS, FAILURES, SLOW, trips, type Window } from './window.js'
import { consecutiveWindow } from './consecutive.js'
import { countWindow } from './count.js'
import { timeWindow } from './time.js'

/** Returned by `admit` when the breaker refuses the attempt. */
export const REFUSED = -1

/** `remote`: the state was applied from another participant of a share. */
export type StateListener = (from: BreakerState, to: BreakerState, remote: boolean) => void

/** The circuit breaker of one key: the public control, plus what the breaker stage and the share use. */
export interface Breaker extends BreakerControl {
  /** Admits an attempt and returns its token, or REFUSED. `attemptTimeout` bounds a probe's slot for retryAfter. */
  admit(t: number, attemptTimeout: number | false): number
  /** Refuses (and counts it) when `admit` would: lets callers fail fast before queueing. */
  refuses(t: number): boolean
  /** ms the caller should wait before trying again, as CircuitOpenError.retryAfter carries it. */
  retryAfter(t: number): number | undefined
  /**
   * When the breaker will next admit a probe (ms epoch): `t` while it admits calls, the end of the open
   * period while open, the running probe's attempt deadline while half-open with every slot taken;
   * undefined when no time is known (forced open with no end, a probe with no deadline).
   */
  nextProbeAt(t: number): number | undefined
  /** The outcome of an admitted attempt; false when its token is stale (it moved nothing). */
  record(token: number, failure: boolean, slow: boolean, t: number): boolean
  /** The upstream asked for quiet (503/429 with Retry-After): open until `t + ms`, whatever the window says. */
  openFor(ms: number, t: number): void
  /** An admitted attempt ended with no outcome to judge (a user abort): frees its probe slot. */
  release(token: number): void
  /** Whether any admitted probe is still out: a key with one is not dropped. */
  readonly busy: boolean
  snapshot(t: number): BreakerSnapshot
  /** The state as a share publishes it. */
  view(): SharedBreakerState
  /**
   * Applies another participant's state. Half-open is not adopted (each participant reaches it by
   * itself when openUntil passes; the share leases the probe), nor is a view older than our own state.
   */
  adopt(view: SharedBreakerState): void
}

function createWindow(spec: NormalizedBreaker['window']): Window {
  if (spec.type === 'consecutive') return consecutiveWindow()
  if (spec.type === 'count') return countWindow(spec.size)
  return timeWindow(spec.duration)
}

/**
 * The circuit breaker of one key. An admitted attempt holds a token (the breaker's generation
 * at admission); an outcome whose token is stale belongs to an earlier state and moves nothing.
 * Open → half-open happens lazily, when someone looks: no timer outlives a call.
 */
export function createBreaker(key: string, options: NormalizedBreaker, onStateChange: StateListener): Breaker {
  const window = createWindow(options.window)
  let state: BreakerState = 'closed'
  let generation = 0
  /** Re-opens since the last close; grows the open duration. */
  let reopens = 0
  let probesInFlight = 0
  let probeSuccesses = 0
  let probeDeadline: number | undefined
  let openedAt: number | undefined
  /** When the current state was entered. */
  let changedAt = 0
  /** When an open breaker lets a probe through; Infinity when forced open with no end. */
  let openUntil = 0
  let rejected = 0
  let transitions = 0

  const isOpen = () => state === 'open' || state === 'forced-open'
  const probesFull = () => state === 'half-open' && probesInFlight >= options.probes
  /** When a refused attempt may try again: the probe's deadline in half-open, else the end of the open period (when either is known). */
  const retryAt = () => (state === 'half-open' ? probeDeadline : openUntil === Infinity ? undefined : openUntil)

  function to(next: BreakerState, remote = false): void {
    const from = state
    generation++
    probesInFlight = probeSuccesses = 0
    probeDeadline = undefined
    if (from === next) return
    state = next
    changedAt = now()
    transitions++
    onStateChange(from, next, remote)
  }

  function refresh(t: number): void {
    if (isOpen() && t >= openUntil) to('half-open')
  }

  function openAt(t: number, until: number, next: BreakerState): void {
    openedAt = t
    openUntil = until
    to(next)
  }

  function trip(t: number): void {
    const d = options.openDuration
    const grown = Math.min(d.max, d.base * d.multiplier ** reopens++)
    // The window keeps what opened the breaker (it ages out) and is only emptied on close.
    openAt(t, t + grown * (1 - d.jitter * Math.random()), 'open')
  }

  /** openedAt while open or half-open, and the end of the open period (as `end`) while open. */
  function times(end: 'openUntil' | 'nextProbeAt') {
    const open = isOpen()
    return { ...(open || state === 'half-open' ? { openedAt } : {}), ...(open && openUntil !== Infinity ? { [end]: openUntil } : {}) }
  }

  function close(): void {
    reopens = 0
    window.reset()
    to('closed')
  }

  const breaker: Breaker = {
    key,
    get state() {
      refresh(now())
      return state
    },
    admit(t, attemptTimeout) {
      if (breaker.refuses(t)) return REFUSED
      refresh(t)
      if (state === 'half-open') {
        probesInFlight++
        probeDeadline = attemptTimeout === false ? undefined : t + attemptTimeout
      }
      return generation
    },
    refuses(t) {
      const refused = (isOpen() && t < openUntil) || probesFull()
      if (refused) rejected++
      return refused
    },
    retryAfter(t) {
      const at = retryAt()
      return at === undefined ? undefined : Math.max(0, at - t)
    },
    nextProbeAt(t) {
      refresh(t)
      return isOpen() || probesFull() ? retryAt() : t
    },
    record(token, failure, slow, t) {
      if (token !== generation) return false
      if (state === 'closed') {
        window.record(failure, slow, t)
        if ((failure || slow) && trips(window, options, t)) trip(t)
      } else if (state === 'half-open') {
        probesInFlight--
        // A slow probe says the upstream is still slow: it must not close a breaker slow calls opened.
        if (failure || slow) trip(t)
        else if (++probeSuccesses >= options.successesToClose) close()
      }
      return true
    },
    openFor(ms, t) {
      if (state === 'disabled' || state === 'forced-open') return
      if (state === 'open') openUntil = Math.max(openUntil, t + ms)
      else openAt(t, t + ms, 'open')
    },
    release(token) {
      if (token === generation && state === 'half-open') probesInFlight--
    },
    open(ms) {
      if (ms !== undefined && !(ms > 0)) fail(`breaker(${JSON.stringify(key)}).open(ms): ms`, 'a positive number', ms)
      const t = now()
      openAt(t, ms === undefined ? Infinity : t + ms, 'forced-open')
    },
    close,
    reset() {
      close()
      rejected = transitions = 0
    },
    disable: () => to('disabled'),
    get busy() {
      return probesInFlight > 0
    },
    snapshot(t) {
      refresh(t)
      const counts = window.counts(t)
      const calls = counts[CALLS]!
      const failures = counts[FAILURES]!
      return { key, state, calls, failures, slowCalls: counts[SLOW]!, failureRate: calls === 0 ? 0 : failures / calls, rejected, transitions, ...times('nextProbeAt') }
    },
    view: () => ({ state, at: changedAt, ...times('openUntil') }),
    adopt(view) {
      const { state: next, at } = view
      if (next === 'half-open') return
      // Half-open is only noticed, not decided: another participant's probe result for this open episode wins.
      const probeResult = state === 'half-open' && at >= (openedAt ?? 0)
      if (at < changedAt && !probeResult) return
      if (next === 'open' || next === 'forced-open') {
        openedAt = view.openedAt ?? at
        openUntil = view.openUntil ?? Infinity
        if (next === 'open' && openUntil <= now()) return
      }
      if (next === 'closed') window.reset()
      to(next, true)
      changedAt = at
    },
  }
  return breaker
}
