/**
 * The retry budget, apart from retry.ts: the hedge stage spends one too, and the core's chunk that the lazily loaded
 * stages share (see core.ts) then holds only this, not the retry policy's backoff, Retry-After and sleep.
 */
import { timeWindow } from './breaker/time.js'
import { CALLS, FAILURES } from './breaker/window.js'

/** Retries one key may spend over the last 10 s: `min + ratio × calls`. Keeps a retry storm from amplifying an outage. */
export class RetryBudget {
  /**
   * The breaker's time window, ten one-second buckets (one ring for both, not two): a call is recorded as a good
   * attempt, a retry as a failed one, so the window's failures are the retries and its calls less them are the calls.
   */
  #window = timeWindow(10_000)
  #budget: { ratio: number; min: number }

  constructor(budget: { ratio: number; min: number }) {
    this.#budget = budget
  }

  recordCall(t: number): void {
    this.#window.record(false, false, t)
  }

  /** Spends one retry if the budget allows it. */
  trySpend(t: number): boolean {
    const counts = this.#window.counts(t)
    const retries = counts[FAILURES]!
    if (retries >= this.#budget.min + this.#budget.ratio * (counts[CALLS]! - retries)) return false
    this.#window.record(true, false, t)
    return true
  }
}
