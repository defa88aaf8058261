/** The last two minutes of each breaker, sampled about once a second, for the sparklines. */
import type { BreakerState, ResilienceSnapshot } from '../../src/types'

export interface Sample {
  at: number
  /** Undefined while the window holds no attempts (an open breaker sends none): a gap, not a 0 %. */
  failureRate: number | undefined
  state: BreakerState
}

/** How far back the sparkline looks, ms. */
export const HISTORY_SPAN = 120_000

export class History {
  private readonly samples = new Map<string, Sample[]>()

  /** Records every breaker of the snapshot at `at` (the local receive time, so remote clocks never skew the axis). */
  record(snapshot: ResilienceSnapshot, at: number): void {
    for (const breaker of snapshot.breakers) {
      let list = this.samples.get(breaker.key)
      if (!list) this.samples.set(breaker.key, (list = []))
      list.push({ at, failureRate: breaker.calls > 0 ? breaker.failureRate : undefined, state: breaker.state })
      const oldest = at - HISTORY_SPAN
      while (list.length > 0 && list[0].at < oldest) list.shift()
    }
  }

  get(key: string): readonly Sample[] {
    return this.samples.get(key) ?? []
  }

  clear(): void {
    this.samples.clear()
  }
}
