/** Where a window's `counts` keep the attempts, the failures and the slow attempts. */
export const CALLS = 0
export const FAILURES = 1
export const SLOW = 2

/** A window's attempts, failures and slow attempts, in that order (CALLS, FAILURES, SLOW). */
export type Counts = [calls: number, failures: number, slow: number]

/**
 * What a breaker remembers of recent attempts. A window only counts; the breaker decides.
 * Adding a strategy means adding a file, never touching the state machine.
 */
export interface Window {
  record(failure: boolean, slow: boolean, now: number): void
  /** Drops what has aged out by `now`; returns the attempts, failures and slow attempts left, at CALLS, FAILURES, SLOW. */
  counts(now: number): Counts
  reset(): void
}

/** What the trip rule reads of a breaker's options. */
export interface TripRule {
  readonly failureThreshold: number
  /** When set, failures must also be at least this share of the window's calls. */
  readonly failureRate?: number | undefined
  /** When set, this many slow calls at this share of the calls trip it too. */
  readonly slowCall?: { readonly rate: number } | undefined
}

/**
 * The trip rule, written once (the breaker and the fleet's breaker both use it): the window, as of
 * `t`, holds `failureThreshold` failures (and `failureRate` of its calls, when set), or as many
 * slow calls at `slowCall.rate` of them.
 */
export function trips(window: Window, rule: TripRule, t: number): boolean {
  const [calls, failures, slowCalls] = window.counts(t)
  if (failures >= rule.failureThreshold && (rule.failureRate === undefined || failures / calls >= rule.failureRate)) return true
  return rule.slowCall !== undefined && slowCalls >= rule.failureThreshold && slowCalls / calls >= rule.slowCall.rate
}
