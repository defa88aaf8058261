import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { Bulkhead, type Lease, type Permit } from '../src/bulkhead.js'
import { NORMAL } from '../src/priority.js'

const HOUR = 3_600_000
beforeEach(() => void vi.useFakeTimers({ now: 10 * HOUR }))
afterEach(() => void vi.useRealTimers())

/** Sets the wall clock back an hour; the timers keep their own time. */
const stepBack = () => vi.setSystemTime(Date.now() - HOUR)

/** A permit is taken for lost a second (LOST_AFTER) past its attempt bound, in time that passes, whatever the wall clock says. */
describe('the bulkhead when the wall clock is set back', () => {
  it('a permit whose release never comes is taken back as long after the step as it was due after the last time read, not once the clock is back where it was', () => {
    const bulkhead = new Bulkhead('k', { maxConcurrent: 1, maxQueue: 0, queueTimeout: 5_000 })
    // Held for an attempt of at most 1 000 ms: lost 2 000 ms on.
    bulkhead.tryAcquire(1_000, Date.now())
    vi.advanceTimersByTime(500)
    expect(bulkhead.snapshot().active).toBe(1)
    stepBack()
    expect(bulkhead.snapshot().active).toBe(1)
    vi.advanceTimersByTime(1_500)
    expect(bulkhead.tryAcquire(1_000, Date.now())).toBeUndefined()
    vi.advanceTimersByTime(1)
    expect(bulkhead.tryAcquire(1_000, Date.now())).toHaveProperty('until', Date.now() + 2_000)
    expect(bulkhead.snapshot()).toMatchObject({ active: 1, queued: 0 })
  })

  it('a queued waiter gets it from its own timer, before its queueTimeout', async () => {
    const bulkhead = new Bulkhead('k', { maxConcurrent: 1, maxQueue: 1, queueTimeout: 5_000 })
    bulkhead.tryAcquire(1_000, Date.now())
    const waiter = { permit: undefined as Permit | undefined }
    void bulkhead.acquire(undefined, Infinity, 0, NORMAL, 1_000).then((permit) => (waiter.permit = permit))
    await vi.advanceTimersByTimeAsync(500)
    stepBack()
    // Nothing else reads the clock: the waiter's timer, waking at least every LOST_AFTER, sees the step 1 000 ms after it
    // queued; the permit is lost 2 000 ms after that (the time between the last read and the step is taken as not passed).
    await vi.advanceTimersByTimeAsync(2_500)
    expect(waiter.permit).toBeUndefined()
    await vi.advanceTimersByTimeAsync(1)
    expect(waiter.permit).toHaveProperty('until', Date.now() + 2_000)
    expect(bulkhead.snapshot()).toMatchObject({ active: 1, queued: 0, rejected: 0 })
    expect(vi.getTimerCount()).toBe(0)
  })

  it('a permit handed over after the step, before anything read the clock, keeps its whole bound', async () => {
    const bulkhead = new Bulkhead('k', { maxConcurrent: 1, maxQueue: 1, queueTimeout: 5_000 })
    const held = bulkhead.tryAcquire(Infinity, Date.now())!
    const waiter = bulkhead.acquire(undefined, Infinity, 0, NORMAL, 1_000)
    stepBack()
    bulkhead.release(held)
    const lease = (await waiter) as Lease
    expect(lease.until).toBe(Date.now() + 2_000)
    vi.advanceTimersByTime(2_000)
    expect(bulkhead.tryAcquire(1_000, Date.now())).toBeUndefined()
    expect(lease.until).toBe(Date.now())
    vi.advanceTimersByTime(1)
    expect(bulkhead.tryAcquire(1_000, Date.now())).toBeDefined()
  })

  it('a clock that goes back less than LOST_AFTER (calls reading it apart) moves nothing', () => {
    const bulkhead = new Bulkhead('k', { maxConcurrent: 1, maxQueue: 0, queueTimeout: 5_000 })
    const lease = bulkhead.tryAcquire(1_000, Date.now())!
    const until = lease.until
    vi.setSystemTime(Date.now() - 1_000)
    expect(bulkhead.tryAcquire(1_000, Date.now())).toBeUndefined()
    expect(lease.until).toBe(until)
  })
})
