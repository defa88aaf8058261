/**
 * The retry budget, apart from retry.ts: the hedge stage spends one too, and the core's chunk that the lazily loaded
 * stages share (see core.ts) then holds only this, not the retry policy's backoff, Retry-After and sleep.
 */

/** Retries one key may spend over the last 10 s: `min + ratio × calls`. Keeps a retry storm from amplifying an outage. */
export class RetryBudget {
  /** A ring of ten one-second buckets: [second since the epoch (-1: never used), calls, retries]. */
  #buckets = Array.from({ length: 10 }, () => [-1, 0, 0] as Bucket)
  #budget: { ratio: number; min: number }

  constructor(budget: { ratio: number; min: number }) {
    this.#budget = budget
  }

  recordCall(t: number): void {
    this.#bucket(t)[1]++
  }

  /** Spends one retry if the budget allows it. */
  trySpend(t: number): boolean {
    const current = this.#bucket(t)
    let calls = 0
    let retries = 0
    for (const [second, c, r] of this.#buckets) {
      if (second > current[0] - 10) {
        calls += c
        retries += r
      }
    }
    if (retries >= this.#budget.min + this.#budget.ratio * calls) return false
    current[2]++
    return true
  }

  /** The bucket of time `t`, emptied first if it last held an older second. */
  #bucket(t: number): Bucket {
    const second = Math.floor(t / 1000)
    const bucket = this.#buckets[second % 10]!
    if (bucket[0] !== second) bucket.splice(0, 3, second, 0, 0)
    return bucket
  }
}

type Bucket = [second: number, calls: number, retries: number]
