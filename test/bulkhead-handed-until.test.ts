import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { Bulkhead, type Lease } from '../src/bulkhead.js'
import { createResilientFetch } from '../src/index.js'
import { NORMAL } from '../src/priority.js'

const T0 = 1_000_000
beforeEach(() => void vi.useFakeTimers({ now: T0 }))
afterEach(() => void vi.useRealTimers())

/** A permit handed to a waiter is good until LOST_AFTER (1 s) past that attempt's deadline: the call's total one when it binds. */
describe('the permit a waiter is handed', () => {
  it('ends a second past the total deadline when that comes before the attempt bound counted from the hand-over', async () => {
    const bulkhead = new Bulkhead('k', { maxConcurrent: 1, maxQueue: 1, queueTimeout: 5_000 })
    const held = bulkhead.tryAcquire(Infinity, T0)!
    // 3 000 ms of the total deadline left when it queues, so its attempt may run 3 000 ms from then.
    const waiter = bulkhead.acquire(undefined, 3_000, 3_000, NORMAL, 3_000)
    await vi.advanceTimersByTimeAsync(2_500)
    bulkhead.release(held)
    // Admitted with 500 ms of the total deadline left: lost past T0 + 3 000 + 1 000, not 3 000 ms on from now.
    expect(((await waiter) as Lease).until).toBe(T0 + 4_000)
  })

  it('the attempt bound still ends it when it comes first', async () => {
    const bulkhead = new Bulkhead('k', { maxConcurrent: 1, maxQueue: 1, queueTimeout: 5_000 })
    const held = bulkhead.tryAcquire(Infinity, T0)!
    const waiter = bulkhead.acquire(undefined, 3_000, 3_000, NORMAL, 1_000)
    await vi.advanceTimersByTimeAsync(500)
    bulkhead.release(held)
    expect(((await waiter) as Lease).until).toBe(T0 + 500 + 1_000 + 1_000)
  })

  it('through the pipeline: a call queued behind a hung one that waited for its permit goes out a second past the hung call\'s total deadline', async () => {
    const sent: string[] = []
    let answerFirst = () => {}
    // The first request is answered when the test says; the second hangs whatever its signal says; the third is answered.
    const fetch = (input: RequestInfo | URL) => {
      sent.push(new URL(String(input)).pathname)
      if (sent.length === 1) return new Promise<Response>((resolve) => (answerFirst = () => resolve(new Response('first'))))
      return sent.length === 2 ? new Promise<Response>(() => {}) : Promise.resolve(new Response('ok'))
    }
    const rf = createResilientFetch({ fetch, bulkhead: { maxConcurrent: 1, queueTimeout: 5_000 }, timeout: { attempt: false, total: 3_000 }, retry: false, fallback: false, breaker: false })
    const first = rf('https://a.test/first')
    void rf('https://a.test/hung').catch(() => {})
    await vi.advanceTimersByTimeAsync(2_500)
    answerFirst()
    await first
    await vi.advanceTimersByTimeAsync(100)
    // The hung call holds the permit from T0 + 2 500; its total deadline is T0 + 3 000, so the permit is lost past T0 + 4 000.
    expect(sent).toEqual(['/first', '/hung'])
    const next = rf('https://a.test/next')
    await vi.advanceTimersByTimeAsync(1_400)
    expect(sent).toEqual(['/first', '/hung'])
    await vi.advanceTimersByTimeAsync(1)
    expect(sent).toEqual(['/first', '/hung', '/next'])
    expect((await next).status).toBe(200)
    expect(rf.snapshot().bulkheads[0]).toMatchObject({ active: 0, queued: 0, rejected: 0 })
  })
})
