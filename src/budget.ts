/**
 * The retry budget, apart from retry.ts: the hedge stage spends one too, and the core's chunk that the lazily loaded
 * stages share (see core.ts) then holds only this, not the retry policy's backoff, Retry-After and sleep.
 */
import { timeWindow } from './breaker/time.js'

type Limits = { ratio: number; min: number }

/** Retries one key may spend over the last 10 s: `min + ratio × calls`. Keeps a retry storm from amplifying an outage. */
export class RetryBudget {
  declare recordCall: (t: number) => void
  /** Spends one retry if the budget allows it: `limits`, else those it was made with (a call may bring its own). */
  declare trySpend: (t: number, limits?: Limits) => boolean

  // Closures over locals, not private fields: locals minify to a letter, `this.#field` does not.
  constructor(budget?: Limits) {
    /**
     * The breaker's time window, ten one-second buckets (one ring for both, not two): a call is recorded as a good
     * attempt, a retry as a failed one, so the window's failures are the retries and its calls less them are the calls.
     */
    const window = timeWindow(10_000)
    this.recordCall = (t) => window.record(false, false, t)
    this.trySpend = (t, { ratio, min } = budget!) => {
      const [calls, retries] = window.counts(t)
      if (retries >= min + ratio * (calls - retries)) return false
      window.record(true, false, t)
      return true
    }
  }
}
