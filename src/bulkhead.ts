import type { BulkheadSnapshot } from './types.js'
import type { NormalizedBulkhead } from './options.js'
import { BulkheadRejectedError, TimeoutError } from './errors.js'

interface Waiter {
  resolve(): void
  reject(error: unknown): void
  timer: ReturnType<typeof setTimeout>
  signal: AbortSignal | undefined
  onAbort: (() => void) | undefined
}

/**
 * At most `maxConcurrent` attempts in flight for one key, a FIFO queue behind them.
 * A released permit passes straight to the first waiter, so the count never dips and refills.
 */
export class Bulkhead {
  active = 0
  rejected = 0
  private readonly queue = new Set<Waiter>()

  constructor(
    readonly key: string,
    private readonly options: NormalizedBulkhead,
  ) {}

  get queued(): number {
    return this.queue.size
  }

  /** Takes a permit at once if one is free and nobody waits. */
  tryAcquire(): boolean {
    if (this.active < this.options.maxConcurrent && this.queue.size === 0) {
      this.active++
      return true
    }
    return false
  }

  /**
   * Waits for a permit, at most `queueTimeout` and at most `totalLeft` ms (then the call's total
   * deadline is what passed). Rejects at once when the queue is full.
   */
  acquire(signal: AbortSignal | undefined, totalLeft: number, total: number): Promise<void> {
    const { maxQueue, queueTimeout } = this.options
    if (this.queue.size >= maxQueue) {
      this.rejected++
      return Promise.reject(new BulkheadRejectedError(this.key, this.active, this.queue.size))
    }
    return new Promise<void>((resolve, reject) => {
      const totalFirst = totalLeft < queueTimeout
      const waiter: Waiter = {
        resolve,
        reject,
        signal,
        onAbort: undefined,
        timer: setTimeout(() => {
          this.leave(waiter)
          if (totalFirst) return reject(new TimeoutError(total, 'total'))
          this.rejected++
          reject(new BulkheadRejectedError(this.key, this.active, this.queue.size))
        }, totalFirst ? totalLeft : queueTimeout),
      }
      if (signal) {
        waiter.onAbort = () => {
          this.leave(waiter)
          reject(signal.reason)
        }
        signal.addEventListener('abort', waiter.onAbort, { once: true })
      }
      this.queue.add(waiter)
    })
  }

  release(): void {
    for (const next of this.queue) {
      this.leave(next)
      next.resolve()
      return
    }
    this.active--
  }

  snapshot(): BulkheadSnapshot {
    return {
      key: this.key,
      active: this.active,
      queued: this.queue.size,
      maxConcurrent: this.options.maxConcurrent,
      maxQueue: this.options.maxQueue,
      rejected: this.rejected,
    }
  }

  private leave(waiter: Waiter): void {
    this.queue.delete(waiter)
    clearTimeout(waiter.timer)
    if (waiter.onAbort) waiter.signal!.removeEventListener('abort', waiter.onAbort)
  }
}
