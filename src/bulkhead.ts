import type { BulkheadSnapshot } from './types.js'
import type { NormalizedBulkhead } from './options.js'
import { BulkheadRejectedError, TimeoutError } from './errors.js'
import type { Priority } from './priority.js'
import { aborted, refusal, type Aborted, type Refusal } from './stages/types.js'

/** How a wait for a permit ends: with the permit (true), refused (queue full, queueTimeout, the total deadline), or aborted. */
export type Permit = true | Refusal | Aborted

/**
 * A queued attempt. Called with nothing, it is admitted; with `denial`, it ends with what `denial`
 * returns, built once it has left (so a refusal counts the queue without it). Either way it leaves
 * its queue first, its timer and abort listener gone.
 */
type Waiter = (denial?: () => Refusal | Aborted) => void

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
   * takes the place of the newest waiter of the lowest priority, which is refused; else it is refused.
   * Never rejects: it resolves with the permit, or the refusal or abort that ended the wait.
   */
  acquire(signal: AbortSignal | undefined, totalLeft: number, total: number, priority: Priority): Promise<Permit> {
    const { maxQueue, queueTimeout } = this.#options
    // An abort before the attempt queued fires no event: heard now, or never.
    if (signal?.aborted) return Promise.resolve(aborted(signal.reason))
    if (this.queued >= maxQueue && !this.#evictBelow(priority)) return Promise.resolve(this.#rejection())
    return new Promise<Permit>((resolve) => {
      const queue = this.#queues[priority]
      const totalFirst = totalLeft < queueTimeout
      const waiter: Waiter = (denial) => {
        if (queue.delete(waiter)) this.queued--
        clearTimeout(timer)
        signal?.removeEventListener('abort', onAbort)
        resolve(denial ? denial() : true)
      }
      // The call's total deadline passing first is a timeout (the pipeline reports it), not the bulkhead's refusal.
      const timer = setTimeout(() => waiter(() => (totalFirst ? refusal('deadline', new TimeoutError(total, 'total')) : this.#rejection())), totalFirst ? totalLeft : queueTimeout)
      const onAbort = () => waiter(() => aborted(signal!.reason))
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
  #rejection(): Refusal {
    this.rejected++
    return refusal('bulkhead', new BulkheadRejectedError(this.key, this.active, this.queued))
  }
}
