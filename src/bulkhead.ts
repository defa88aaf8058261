import type { BulkheadSnapshot } from './types.js'
import type { NormalizedBulkhead } from './options.js'
import { BulkheadRejectedError, TimeoutError } from './errors.js'
import type { Priority } from './priority.js'
import { aborted, refusal, type Aborted, type Refusal } from './stages/types.js'
import { now } from './clock.js'
import { LOST_AFTER } from './deadline.js'

/**
 * A permit, good until `until` (ms epoch): LOST_AFTER past its attempt's deadline. One still held then was lost: a
 * Worker's request context that ended (its handler answered first) drops the attempt, its timer and the release, and
 * the permit is taken back (a late release of it does nothing). A waiter so dropped is given a permit in its turn,
 * taken back the same way. A wall clock set back moves `until` back as far: it comes as long after, not an hour late.
 */
export interface Lease {
  until: number
  /** Its neighbours in the ring of permits held; `prev` is undefined once it is given back (`next` stays, for a walk on it). */
  prev: Lease | undefined
  next: Lease | undefined
}

/** How a wait for a permit ends: with the permit, refused (queue full, queueTimeout, the total deadline), or aborted. */
export type Permit = Lease | Refusal | Aborted

/**
 * A queued attempt, called once while queued. Called with nothing, it is admitted; with `denial`, it ends with what `denial`
 * returns, built once it has left (so a refusal counts the queue without it). Either way it leaves
 * its queue first, its timer and abort listener gone.
 */
type Waiter = (denial?: () => Refusal | Aborted) => void

/**
 * At most `maxConcurrent` attempts in flight for one key, a queue behind them served high before normal
 * before low, FIFO within one priority. A released permit passes straight to the first waiter.
 */
export class Bulkhead {
  /** Attempts waiting for a permit. */
  queued = 0
  rejected = 0
  /** Attempts in flight: permits held. */
  active = 0
  /** Waiters by priority (high, normal, low); a Set keeps arrival order and leaves in O(1). */
  #queues: [Set<Waiter>, Set<Waiter>, Set<Waiter>] = [new Set(), new Set(), new Set()]
  /** The permits held, a ring through this head: in and out without hashing (a Set's cost a tenth of a call). */
  #held: Lease = ring()
  /** No permit held is lost before this (ms epoch). */
  #lostAt = Infinity
  /** The latest time read (ms epoch): one read earlier than it by more than LOST_AFTER is a clock set back. */
  #seen = 0
  #options: NormalizedBulkhead

  constructor(
    readonly key: string,
    options: NormalizedBulkhead,
  ) {
    this.#options = options
  }

  /** Counts a refusal and describes the bulkhead as it is now. */
  #rejection(): Refusal {
    this.rejected++
    return refusal('bulkhead', new BulkheadRejectedError(this.key, this.active, this.queued))
  }

  snapshot(): BulkheadSnapshot {
    const { maxConcurrent, maxQueue } = this.#options
    this.reclaim(now())
    return { key: this.key, active: this.active, queued: this.queued, maxConcurrent, maxQueue, rejected: this.rejected }
  }

  /** Takes a permit at once if one is free (none is while anyone waits: a freed permit goes to the first waiter); its attempt may run `bound` ms from `t`. */
  tryAcquire(bound: number, t: number): Lease | undefined {
    this.reclaim(t)
    return this.active < this.#options.maxConcurrent ? this.#lease(t + bound) : undefined
  }

  /**
   * Waits for a permit, at most `queueTimeout` and at most `totalLeft` ms (then the call's total
   * deadline is what passed). When the queue is full, an arrival of higher priority than some waiter
   * takes the place of the newest waiter of the lowest priority, which is refused; else it is refused.
   * Never rejects: it resolves with the permit, or the refusal or abort that ended the wait.
   */
  acquire(signal: AbortSignal | undefined, totalLeft: number, total: number, priority: Priority, bound = Infinity): Promise<Permit> {
    const { maxQueue, queueTimeout } = this.#options
    return new Promise<Permit>((resolve) => {
      // An abort before the attempt queued fires no event: heard now, or never.
      if (signal?.aborted) return resolve(aborted(signal.reason))
      if (this.queued >= maxQueue) {
        // The newest waiter of the lowest priority below the arrival's is refused: its place is the arrival's.
        let newest: Waiter | undefined
        for (let p = 2; p > priority && !newest; p--) for (const waiter of this.#queues[p]!) newest = waiter
        if (!newest) return resolve(this.#rejection())
        newest(() => this.#rejection())
      }
      const queue = this.#queues[priority]
      let timer: ReturnType<typeof setTimeout> | undefined
      let left = totalLeft <= queueTimeout ? totalLeft : queueTimeout
      let ms = 0
      // The call's total deadline: the attempt of a waiter admitted late runs to it, not `bound` on from then.
      const end = now() + totalLeft
      const waiter: Waiter = (denial) => {
        queue.delete(waiter)
        this.queued--
        clearTimeout(timer)
        signal?.removeEventListener('abort', onAbort)
        resolve(denial ? denial() : (this.reclaim(now()), this.#lease(Math.min(now() + bound, end))))
      }
      // The waiter's one timer: it wakes when the first permit held is taken for lost (the reclaim hands it to the first waiter:
      // nobody else may come to), and ends the wait once `left` ms have passed, counted by the timer, not the clock. It wakes
      // at least every LOST_AFTER: a permit handed to a waiter ahead after it armed is lost no sooner, and is seen in time.
      // The call's total deadline passing first, or with the queueTimeout, is a timeout (the pipeline reports it), not the bulkhead's refusal.
      const wake = () => {
        this.reclaim(now())
        if (!queue.has(waiter)) return
        if ((left -= ms) > 0) timer = setTimeout(wake, (ms = Math.min(left, LOST_AFTER, this.#lostAt + 1 - now())))
        else waiter(() => (totalLeft <= queueTimeout ? refusal('deadline', new TimeoutError(total, 'total')) : this.#rejection()))
      }
      const onAbort = () => waiter(() => aborted(signal!.reason))
      signal?.addEventListener('abort', onAbort)
      queue.add(waiter)
      this.queued++
      wake()
    })
  }

  /** Gives `lease` back, to the first waiter if any; nothing when it was taken for lost. */
  release(lease: Lease): void {
    const { prev, next } = lease
    if (!prev) return
    prev.next = next
    next!.prev = prev
    lease.prev = undefined
    this.active--
    if (this.queued) for (const queue of this.#queues) for (const waiter of queue) return waiter()
  }

  /** Calls `f` with each permit held, oldest first; `f` may give it back. */
  #each(f: (lease: Lease) => unknown): void {
    for (let lease = this.#held.next!; lease !== this.#held; lease = lease.next!) f(lease)
  }

  /** Takes back the permits held past their `until` (their request contexts went, so their release never comes). */
  reclaim(t: number): void {
    // The clock set back (by more than calls read it apart): every permit ends as long after now as it did after the
    // time last read, not once the clock is back where it was (the time between that read and the step is not counted).
    const back = this.#seen - (this.#seen = t)
    if (back > LOST_AFTER) {
      this.#each((lease) => (lease.until -= back))
      this.#lostAt -= back
    }
    // O(1) per admission until a permit may be lost: only then are the permits held gone through.
    if (t > this.#lostAt) {
      this.#lostAt = Infinity
      this.#each((lease) => (t > lease.until ? this.release(lease) : (this.#lostAt = Math.min(this.#lostAt, lease.until))))
    }
  }

  #lease(end: number): Lease {
    const held = this.#held
    const lease: Lease = { until: end + LOST_AFTER, prev: held.prev, next: held }
    held.prev = held.prev!.next = lease
    this.active++
    this.#lostAt = Math.min(this.#lostAt, lease.until)
    return lease
  }
}

/** An empty ring: its head, which is its own neighbour. */
function ring(): Lease {
  const head = { until: Infinity } as Lease
  return (head.prev = head.next = head)
}
