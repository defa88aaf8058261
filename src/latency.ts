import type { LatencySnapshot } from './types.js'

/** Samples a summary holds: the percentiles describe this many recent attempts of a key. */
export const LATENCY_SAMPLES = 128

/** Upper bounds (ms) of the cumulative histogram buckets; the last, implicit bucket is +Inf. */
export const LATENCY_BUCKETS: readonly number[] = [5, 10, 25, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000]

/**
 * The latency of one key's recent attempts to response headers: a ring of the last 128 durations for
 * percentiles, and cumulative bucket counts since the key was created for the histogram.
 * Recording is O(1) and allocates nothing; a percentile sorts a copy at most once per `maxStale` samples.
 */
export class LatencySummary {
  #ring = new Float64Array(LATENCY_SAMPLES)
  /** A sorted copy of the ring, made when a percentile is asked for: a key nobody reads costs only the ring. */
  #sorted: Float64Array | undefined
  /** Samples per bucket (not cumulative); the last one past every bound (+Inf). */
  #counts = new Float64Array(LATENCY_BUCKETS.length + 1)
  #sum = 0
  /** `count` when `#sorted` was last refreshed. */
  #sortedAt = 0
  /** Every sample recorded; the ring holds the last min(count, 128). */
  count = 0

  constructor(readonly key = '') {}

  get samples(): number {
    return Math.min(this.count, LATENCY_SAMPLES)
  }

  /** One attempt's duration to response headers, ms. */
  record(ms: number): void {
    if (!(ms >= 0)) return
    this.#ring[this.count++ % LATENCY_SAMPLES] = ms
    this.#sum += ms
    let bucket = 0
    while (ms > LATENCY_BUCKETS[bucket]!) bucket++
    this.#counts[bucket]!++
  }

  /**
   * The q-quantile (0..1, nearest rank) of the samples held, or undefined with none.
   * `maxStale`: how many samples may have arrived since the last sort before sorting again;
   * a hedge decision per call tolerates a few, a snapshot wants none.
   */
  percentile(q: number, maxStale = 0): number | undefined {
    const n = this.samples
    if (n === 0) return undefined
    if (!this.#sorted || this.count - this.#sortedAt > maxStale) {
      this.#sorted = this.#ring.slice(0, n).sort()
      this.#sortedAt = this.count
    }
    const sorted = this.#sorted!
    return sorted[Math.max(1, Math.ceil(q * sorted.length)) - 1]
  }

  /** The key's recent attempt latency, as the snapshot reports it. */
  figures(): LatencySnapshot {
    let running = 0
    return {
      key: this.key,
      samples: this.samples,
      p50: this.percentile(0.5) ?? 0,
      p90: this.percentile(0.9) ?? 0,
      p99: this.percentile(0.99) ?? 0,
      count: this.count,
      sum: this.#sum,
      buckets: LATENCY_BUCKETS.map((_, i) => (running += this.#counts[i]!)),
      le: LATENCY_BUCKETS,
    }
  }
}
