import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { Bulkhead, type Permit } from '../src/bulkhead.js'
import { BulkheadRejectedError, createResilientFetch } from '../src/index.js'
import { HIGH, NORMAL } from '../src/priority.js'

beforeEach(() => void vi.useFakeTimers({ now: 1_000_000 }))
afterEach(() => void vi.useRealTimers())

/** A bulkhead of `maxConcurrent` permits, and a waiter whose promise is watched. */
function setup(maxConcurrent: number, queueTimeout = 5_000) {
  const bulkhead = new Bulkhead('k', { maxConcurrent, maxQueue: 10, queueTimeout })
  const wait = (bound: number, priority = NORMAL) => {
    const watched = { permit: undefined as Permit | undefined }
    const promise = bulkhead.acquire(undefined, Infinity, 0, priority, bound).then((permit) => (watched.permit = permit))
    return Object.assign(watched, { promise })
  }
  return { bulkhead, wait }
}

/** A permit (held, or handed to a waiter) is taken for lost a second past its attempt bound (LOST_AFTER). */
describe('a queued waiter and a permit whose release never comes', () => {
  it('the first waiter gets the permit as it is taken for lost, with nobody else arriving, not at its queueTimeout', async () => {
    const { bulkhead, wait } = setup(1)
    // Held for an attempt of at most 1 000 ms: lost from 2 001 ms on.
    bulkhead.tryAcquire(1_000, Date.now())
    const waiter = wait(1_000)
    await vi.advanceTimersByTimeAsync(2_000)
    expect(waiter.permit).toBeUndefined()
    await vi.advanceTimersByTimeAsync(1)
    expect(waiter.permit).toHaveProperty('until', Date.now() + 2_000)
    expect(bulkhead.snapshot()).toMatchObject({ active: 1, queued: 0, rejected: 0 })
    expect(vi.getTimerCount()).toBe(0)
  })

  it('each waiter in turn, as each permit is taken for lost; the others keep waiting, one timer each', async () => {
    const { bulkhead, wait } = setup(2)
    bulkhead.tryAcquire(1_000, Date.now())
    bulkhead.tryAcquire(2_000, Date.now())
    const [first, second, third] = [wait(Infinity, HIGH), wait(Infinity), wait(Infinity)]
    expect(vi.getTimerCount()).toBe(3)
    await vi.advanceTimersByTimeAsync(2_001)
    expect([first.permit !== undefined, second.permit, third.permit]).toEqual([true, undefined, undefined])
    expect(vi.getTimerCount()).toBe(2)
    await vi.advanceTimersByTimeAsync(999)
    expect(second.permit).toBeUndefined()
    await vi.advanceTimersByTimeAsync(1)
    expect(second.permit).toHaveProperty('until', Infinity)
    expect(third.permit).toBeUndefined()
    expect(bulkhead.snapshot()).toMatchObject({ active: 2, queued: 1 })
    // Neither permit now held is ever lost: the third is refused at its queueTimeout, not earlier, not later.
    await vi.advanceTimersByTimeAsync(1_998)
    expect(third.permit).toBeUndefined()
    await vi.advanceTimersByTimeAsync(1)
    expect((third.permit as { error: unknown }).error).toBeInstanceOf(BulkheadRejectedError)
    expect(bulkhead.snapshot()).toMatchObject({ active: 2, queued: 0, rejected: 1 })
    expect(vi.getTimerCount()).toBe(0)
  })

  it('a permit taken for lost as the queueTimeout ends goes to the waiter, not a refusal', async () => {
    const { bulkhead, wait } = setup(1, 2_001)
    bulkhead.tryAcquire(1_000, Date.now())
    const waiter = wait(1_000)
    await vi.advanceTimersByTimeAsync(2_001)
    expect(waiter.permit).toHaveProperty('until')
    expect(bulkhead.rejected).toBe(0)
  })

  it('through the pipeline: a transport that never settles (it ignores the abort) holds its permit; the queued call goes out a second past its attempt deadline', async () => {
    const sent: string[] = []
    // The first request hangs whatever its signal says; the second is answered.
    const fetch = (input: RequestInfo | URL) => (sent.push(String(input)), sent.length === 1 ? new Promise<Response>(() => {}) : Promise.resolve(new Response('ok')))
    const rf = createResilientFetch({ fetch, bulkhead: { maxConcurrent: 1, queueTimeout: 5_000 }, timeout: { attempt: 1_000, total: 30_000 }, retry: false, fallback: false, breaker: false })
    void rf('https://a.test/hung')
    const queued = rf('https://a.test/next')
    await vi.advanceTimersByTimeAsync(2_000)
    expect(sent).toEqual(['https://a.test/hung'])
    await vi.advanceTimersByTimeAsync(1)
    expect(sent).toEqual(['https://a.test/hung', 'https://a.test/next'])
    expect((await queued).status).toBe(200)
    expect(rf.snapshot().bulkheads[0]).toMatchObject({ active: 0, queued: 0, rejected: 0 })
  })
})
