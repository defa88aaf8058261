import type { BulkheadSnapshot } from './types.js'
import type { NormalizedBulkhead } from './options.js'
import { BulkheadRejectedError, TimeoutError } from './errors.js'
import type { Priority } from './priority.js'

/**
 * A queued attempt. Called with nothing, it is admitted; with `error`, it is rejected with what
 * `error` returns, built once it has left (so a rejection counts the queue without it). Either way it
 * leaves its queue first, its timer and abort listener gone.
 */
type Waiter = (error?: () => unknown) => void

/**
 * At most `maxConcurrent` attempts in flight for one key, a queue behind them served high before normal
 * before low, FIFO within one priority. A released permit passes straight to the first waiter, so the
 * count never dips and refills.
 */
export class Bulkhead {
  active = 0
  /** Attempts waiting for a permit. */
  queued = 0
  rejected = 0
  /** Waiters by priority (high, normal, low); a Set keeps arrival order and leaves in O(1). */
  #queues: [Set<Waiter>, Set<Waiter>, Set<Waiter>] = [new Set(), new Set(), new Set()]
  #options: NormalizedBulkhead

  constructor(
    readonly key: string,
    options: NormalizedBulkhead,
  ) {
    this.#options = options
  }

  /** Takes a permit at once if one is free and nobody waits. */
  tryAcquire(): boolean {
    if (this.active >= this.#options.maxConcurrent || this.queued > 0) return false
    this.active++
    return true
  }

  /**
   * Waits for a permit, at most `queueTimeout` and at most `totalLeft` ms (then the call's total
   * deadline is what passed). When the queue is full, an arrival of higher priority than some waiter
   * takes the place of the newest waiter of the lowest priority, which is rejected; else it is rejected.
   */
  acquire(signal: AbortSignal | undefined, totalLeft: number, total: number, priority: Priority): Promise<void> {
    const { maxQueue, queueTimeout } = this.#options
    // An abort before the attempt queued fires no event: heard now, or never.
    if (signal?.aborted) return Promise.reject(signal.reason)
    if (this.queued >= maxQueue && !this.#evictBelow(priority)) return Promise.reject(this.#rejection())
    return new Promise<void>((resolve, reject) => {
      const queue = this.#queues[priority]
      const totalFirst = totalLeft < queueTimeout
      const waiter: Waiter = (error) => {
        if (queue.delete(waiter)) this.queued--
        clearTimeout(timer)
        signal?.removeEventListener('abort', onAbort)
        if (error) reject(error())
        else resolve()
      }
      const timer = setTimeout(() => waiter(() => (totalFirst ? new TimeoutError(total, 'total') : this.#rejection())), totalFirst ? totalLeft : queueTimeout)
      const onAbort = () => waiter(() => signal!.reason)
      signal?.addEventListener('abort', onAbort, { once: true })
      queue.add(waiter)
      this.queued++
    })
  }

  release(): void {
    for (const queue of this.#queues) for (const waiter of queue) return waiter()
    this.active--
  }

  snapshot(): BulkheadSnapshot {
    const { maxConcurrent, maxQueue } = this.#options
    return { key: this.key, active: this.active, queued: this.queued, maxConcurrent, maxQueue, rejected: this.rejected }
  }

  /** Rejects the newest waiter of the lowest priority below `priority`, if any: its place is the arrival's. */
  #evictBelow(priority: Priority): boolean {
    for (let p = 2; p > priority; p--) {
      let newest: Waiter | undefined
      for (const waiter of this.#queues[p]!) newest = waiter
      if (newest) {
        newest(() => this.#rejection())
        return true
      }
    }
    return false
  }

  /** Counts a refusal and describes the bulkhead as it is now. */
  #rejection(): BulkheadRejectedError {
    this.rejected++
    return new BulkheadRejectedError(this.key, this.active, this.queued)
  }
}
