/**
 * What a breaker remembers of recent attempts. A window only counts; the breaker decides.
 * Adding a strategy means adding a file, never touching the state machine.
 */
export interface Window {
  /** Attempts, failures and slow attempts currently in the window (after `refresh`). */
  readonly calls: number
  readonly failures: number
  readonly slowCalls: number
  record(failure: boolean, slow: boolean, now: number): void
  /** Drops what has aged out; constant cost. */
  refresh(now: number): void
  reset(): void
}
