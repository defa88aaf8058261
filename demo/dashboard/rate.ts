/** Calls per second from a growing counter, over the last few seconds, so a change shows within one window. */

/** How far back a rate looks, ms. */
export const RATE_SPAN = 5_000

export class RateMeter {
  private readonly samples = new Map<string, { at: number; count: number }[]>()

  /** Records a counter's current value; a counter that went down (a reset) starts over. */
  record(key: string, count: number, at: number): void {
    let list = this.samples.get(key)
    if (!list || (list.length > 0 && count < list[list.length - 1].count)) this.samples.set(key, (list = []))
    list.push({ at, count })
    // Keep one sample older than the span, so the rate always covers a full span once it can.
    while (list.length > 2 && list[1].at <= at - RATE_SPAN) list.shift()
  }

  /** Per second over the span; undefined until two samples at least a second apart exist. */
  rate(key: string): number | undefined {
    const list = this.samples.get(key)
    if (!list || list.length < 2) return undefined
    const first = list[0]
    const last = list[list.length - 1]
    if (last.at - first.at < 1_000) return undefined
    return ((last.count - first.count) * 1_000) / (last.at - first.at)
  }

  clear(): void {
    this.samples.clear()
  }
}
