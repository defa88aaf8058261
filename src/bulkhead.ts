import type { BulkheadSnapshot } from './types.js'
import type { NormalizedBulkhead } from './options.js'
import { BulkheadRejectedError, TimeoutError } from './errors.js'
import { NORMAL, type Priority } from './priority.js'

interface Waiter {
  resolve(): void
  reject(error: unknown): void
  timer: ReturnType<typeof setTimeout>
  priority: Priority
  signal: AbortSignal | undefined
  onAbort: (() => void) | undefined
}

/**
 * At most `maxConcurrent` attempts in flight for one key, a queue behind them served high before normal
 * before low, FIFO within one priority. A released permit passes straight to the first waiter, so the
 * count never dips and refills.
 */
export class Bulkhead {
  active = 0
  rejected = 0
  /** Waiters by priority (high, normal, low); a Set keeps arrival order and leaves in O(1). */
  private readonly queues: [Set<Waiter>, Set<Waiter>, Set<Waiter>] = [new Set(), new Set(), new Set()]
  private size = 0

  constructor(
    readonly key: string,
    private readonly options: NormalizedBulkhead,
  ) {}

  get queued(): number {
    return this.size
  }

  /** Takes a permit at once if one is free and nobody waits. */
  tryAcquire(): boolean {
    if (this.active < this.options.maxConcurrent && this.size === 0) {
      this.active++
      return true
    }
    return false
  }

  /**
   * Waits for a permit, at most `queueTimeout` and at most `totalLeft` ms (then the call's total
   * deadline is what passed). When the queue is full, an arrival of higher priority than some waiter
   * takes the place of the newest waiter of the lowest priority, which is rejected; else it is rejected.
   */
  acquire(signal: AbortSignal | undefined, totalLeft: number, total: number, priority: Priority = NORMAL): Promise<void> {
    const { maxQueue, queueTimeout } = this.options
    if (this.size >= maxQueue && !this.evictBelow(priority)) return Promise.reject(this.rejection())
    return new Promise<void>((resolve, reject) => {
      const totalFirst = totalLeft < queueTimeout
      const waiter: Waiter = {
        resolve,
        reject,
        priority,
        signal,
        onAbort: undefined,
        timer: setTimeout(() => {
          this.leave(waiter)
          reject(totalFirst ? new TimeoutError(total, 'total') : this.rejection())
        }, totalFirst ? totalLeft : queueTimeout),
      }
      if (signal) {
        waiter.onAbort = () => {
          this.leave(waiter)
          reject(signal.reason)
        }
        signal.addEventListener('abort', waiter.onAbort, { once: true })
      }
      this.queues[priority].add(waiter)
      this.size++
    })
  }

  release(): void {
    for (const queue of this.queues) {
      for (const next of queue) {
        this.leave(next)
        next.resolve()
        return
      }
    }
    this.active--
  }

  snapshot(): BulkheadSnapshot {
    return {
      key: this.key,
      active: this.active,
      queued: this.size,
      maxConcurrent: this.options.maxConcurrent,
      maxQueue: this.options.maxQueue,
      rejected: this.rejected,
    }
  }

  /** Rejects the newest waiter of the lowest priority below `priority`, if any: its place is the arrival's. */
  private evictBelow(priority: Priority): boolean {
    for (let p = 2; p > priority; p--) {
      let newest: Waiter | undefined
      for (const waiter of this.queues[p]!) newest = waiter
      if (newest !== undefined) {
        this.leave(newest)
        newest.reject(this.rejection())
        return true
      }
    }
    return false
  }

  /** Counts a refusal and describes the bulkhead as it is now. */
  private rejection(): BulkheadRejectedError {
    this.rejected++
    return new BulkheadRejectedError(this.key, this.active, this.size)
  }

  private leave(waiter: Waiter): void {
    if (this.queues[waiter.priority].delete(waiter)) this.size--
    clearTimeout(waiter.timer)
    if (waiter.onAbort) waiter.signal!.removeEventListener('abort', waiter.onAbort)
  }
}
