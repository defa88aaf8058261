import type { Window } from './window.js'

const BUCKETS = 10

/**
 * The attempts of the last `duration` ms, in a ring of buckets with running totals:
 * recording costs the same however many attempts the window holds.
 */
export class TimeWindow implements Window {
  calls = 0
  failures = 0
  slowCalls = 0
  private readonly bucketMs: number
  private readonly epochs = new Float64Array(BUCKETS).fill(-1)
  private readonly bucketCalls = new Uint32Array(BUCKETS)
  private readonly bucketFailures = new Uint32Array(BUCKETS)
  private readonly bucketSlow = new Uint32Array(BUCKETS)

  constructor(duration: number) {
    this.bucketMs = duration / BUCKETS
  }

  record(failure: boolean, slow: boolean, now: number): void {
    const epoch = Math.floor(now / this.bucketMs)
    const i = epoch % BUCKETS
    if (this.epochs[i] !== epoch) this.empty(i, epoch)
    this.bucketCalls[i]!++
    this.calls++
    if (failure) {
      this.bucketFailures[i]!++
      this.failures++
    }
    if (slow) {
      this.bucketSlow[i]!++
      this.slowCalls++
    }
  }

  refresh(now: number): void {
    const epoch = Math.floor(now / this.bucketMs)
    for (let i = 0; i < BUCKETS; i++) {
      const e = this.epochs[i]!
      // Aged out, or from a future a clock step took back.
      if (e !== -1 && (e <= epoch - BUCKETS || e > epoch)) this.empty(i, -1)
    }
  }

  reset(): void {
    this.calls = this.failures = this.slowCalls = 0
    this.epochs.fill(-1)
    this.bucketCalls.fill(0)
    this.bucketFailures.fill(0)
    this.bucketSlow.fill(0)
  }

  private empty(i: number, epoch: number): void {
    this.calls -= this.bucketCalls[i]!
    this.failures -= this.bucketFailures[i]!
    this.slowCalls -= this.bucketSlow[i]!
    this.bucketCalls[i] = this.bucketFailures[i] = this.bucketSlow[i] = 0
    this.epochs[i] = epoch
  }
}
