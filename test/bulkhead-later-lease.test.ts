import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { Bulkhead, type Permit } from '../src/bulkhead.js'
import { NORMAL } from '../src/priority.js'

const T0 = 1_000_000
beforeEach(() => void vi.useFakeTimers({ now: T0 }))
afterEach(() => void vi.useRealTimers())

describe('a waiter and a permit handed to a waiter ahead of it after it armed its timer', () => {
  it('notices that permit taken for lost a millisecond past its until, not when the permits it knew of would have been', async () => {
    const bulkhead = new Bulkhead('k', { maxConcurrent: 2, maxQueue: 5, queueTimeout: 20_000 })
    const held = bulkhead.tryAcquire(Infinity, T0)!
    // Lost past T0 + 11 000: the earliest until when the waiters arm their timers.
    bulkhead.tryAcquire(10_000, T0)
    const watched: (Permit | undefined)[] = []
    void bulkhead.acquire(undefined, Infinity, 0, NORMAL, 500).then((permit) => (watched[0] = permit))
    void bulkhead.acquire(undefined, Infinity, 0, NORMAL, Infinity).then((permit) => (watched[1] = permit))
    await vi.advanceTimersByTimeAsync(100)
    // The first waiter gets the permit with an attempt of at most 500 ms: lost past T0 + 1 600. Its release never comes.
    bulkhead.release(held)
    await vi.advanceTimersByTimeAsync(0)
    expect(watched[0]).toHaveProperty('until', T0 + 1_600)
    await vi.advanceTimersByTimeAsync(1_500)
    expect(watched[1]).toBeUndefined()
    await vi.advanceTimersByTimeAsync(1)
    expect(watched[1]).toHaveProperty('until', Infinity)
    expect(bulkhead.snapshot()).toMatchObject({ active: 2, queued: 0, rejected: 0 })
  })

  it('a waiter still ends at its queueTimeout, counted by its timer, however often it wakes', async () => {
    const bulkhead = new Bulkhead('k', { maxConcurrent: 1, maxQueue: 5, queueTimeout: 4_500 })
    bulkhead.tryAcquire(Infinity, T0)
    let permit: Permit | undefined
    void bulkhead.acquire(undefined, Infinity, 0, NORMAL).then((p) => (permit = p))
    await vi.advanceTimersByTimeAsync(4_499)
    expect(permit).toBeUndefined()
    expect(vi.getTimerCount()).toBe(1)
    await vi.advanceTimersByTimeAsync(1)
    expect(permit).toHaveProperty('kind', 'refused')
    expect(vi.getTimerCount()).toBe(0)
  })
})
