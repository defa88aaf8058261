/**
 * Edges of the bulkhead's permit accounting that the other suites left open: mutants of src/bulkhead.ts survived them.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { Bulkhead, type Permit } from '../src/bulkhead.js'
import { BulkheadRejectedError, createResilientFetch, TimeoutError } from '../src/index.js'
import { NORMAL } from '../src/priority.js'

beforeEach(() => void vi.useFakeTimers({ now: 1_000_000 }))
afterEach(() => void vi.useRealTimers())

/** A waiter whose promise is watched. */
function wait(bulkhead: Bulkhead, bound: number) {
  const watched = { permit: undefined as Permit | undefined }
  void bulkhead.acquire(undefined, Infinity, 0, NORMAL, bound).then((permit) => (watched.permit = permit))
  return watched
}

describe('the bulkhead, at the edges of a lost permit', () => {
  it('the late release of a permit taken for lost hands nothing to a waiter: the permit taken back already went to the first one', async () => {
    const bulkhead = new Bulkhead('k', { maxConcurrent: 1, maxQueue: 2, queueTimeout: 10_000 })
    // Held for an attempt of at most 1 000 ms: lost from 2 001 ms on, and handed to the first waiter.
    const lost = bulkhead.tryAcquire(1_000, Date.now())!
    const first = wait(bulkhead, 5_000)
    const second = wait(bulkhead, 5_000)
    await vi.advanceTimersByTimeAsync(2_001)
    expect(first.permit).toHaveProperty('until')
    expect(bulkhead.snapshot()).toMatchObject({ active: 1, queued: 1 })
    // The lost attempt's release comes after all: the second waiter keeps waiting, one permit in flight as before.
    bulkhead.release(lost)
    await vi.advanceTimersByTimeAsync(0)
    expect(second.permit).toBeUndefined()
    expect(bulkhead.snapshot()).toMatchObject({ active: 1, queued: 1 })
  })

  it('a permit is not taken back at its until, even when another one lost before it has the permits gone through', () => {
    const bulkhead = new Bulkhead('k', { maxConcurrent: 2, maxQueue: 0, queueTimeout: 5_000 })
    // Lost from 2 001 ms on, and from 3 001 ms on.
    bulkhead.tryAcquire(1_000, Date.now())
    const later = bulkhead.tryAcquire(2_000, Date.now())!
    // Nothing reads the clock until the later one's until: the earlier is taken back, the later is still held.
    vi.advanceTimersByTime(3_000)
    expect(later.until).toBe(Date.now())
    expect(bulkhead.snapshot().active).toBe(1)
    vi.advanceTimersByTime(1)
    expect(bulkhead.snapshot().active).toBe(0)
  })
})

describe('a queued call whose queueTimeout ends as its total deadline passes', () => {
  /** A call held forever, and one queued behind it with `total` ms left as it queues; returns what the queued one ends with. */
  async function queuedBehindHung(total: number) {
    const fetch = (() => new Promise(() => {})) as unknown as typeof globalThis.fetch
    const rf = createResilientFetch({ fetch, bulkhead: { maxConcurrent: 1, queueTimeout: 5_000 }, timeout: { attempt: false, total }, fallback: false, breaker: false })
    void rf('https://a.test/hung').catch(() => {})
    const queued = rf('https://a.test/next').catch((error: unknown) => error)
    await vi.advanceTimersByTimeAsync(Math.min(total, 5_000))
    return { error: await queued, snapshot: rf.snapshot() }
  }

  it('is a timeout of the total deadline, as when the deadline comes first: the total deadline has passed, so the call is over', async () => {
    const { error, snapshot } = await queuedBehindHung(5_000)
    expect(error).toBeInstanceOf(TimeoutError)
    expect(error).toMatchObject({ scope: 'total', timeout: 5_000 })
    // It never reached the network (rejected, not a failure), and the bulkhead did not refuse it, as when the deadline comes first.
    expect(snapshot.totals).toMatchObject({ timeouts: 1, rejected: 1, failures: 0 })
    expect(snapshot.bulkheads[0]).toMatchObject({ rejected: 0 })
  })

  it('with time left, it is the bulkhead\'s refusal', async () => {
    const { error, snapshot } = await queuedBehindHung(5_001)
    expect(error).toBeInstanceOf(BulkheadRejectedError)
    expect(snapshot.bulkheads[0]).toMatchObject({ rejected: 1 })
  })
})
