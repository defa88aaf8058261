import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { Bulkhead, type Lease } from '../src/bulkhead.js'
import { BulkheadRejectedError } from '../src/errors.js'
import { HIGH, LOW, NORMAL, priorityOf, type Priority } from '../src/priority.js'
import { flush } from './helpers.js'

beforeEach(() => {
  vi.useFakeTimers({ now: 1_000_000 })
})
afterEach(() => {
  vi.useRealTimers()
})

/** A bulkhead with its permits all taken, and a log of the order waiters got theirs. */
function full(maxConcurrent: number, maxQueue: number) {
  const bulkhead = new Bulkhead('k', { maxConcurrent, maxQueue, queueTimeout: 5_000 })
  // The permits held, oldest first: release() gives back the oldest.
  const held: Lease[] = []
  for (let i = 0; i < maxConcurrent; i++) held.push(bulkhead.tryAcquire(Infinity, Date.now())!)
  expect(held.every((lease) => lease !== undefined)).toBe(true)
  const served: string[] = []
  const rejected: string[] = []
  const release = () => bulkhead.release(held.shift()!)
  const wait = (name: string, priority: Priority, signal?: AbortSignal) =>
    bulkhead.acquire(signal, Infinity, 0, priority).then((permit) => {
      if (!('kind' in permit)) return void (held.push(permit), served.push(name))
      expect(permit).toMatchObject({ kind: 'refused', reason: 'bulkhead' })
      expect((permit as { error: unknown }).error).toBeInstanceOf(BulkheadRejectedError)
      rejected.push(name)
    })
  return { bulkhead, served, rejected, wait, release }
}

describe('priority in the bulkhead queue', () => {
  it('serves high before normal before low, FIFO within one priority', async () => {
    const { bulkhead, served, wait, release } = full(1, 10)
    const all = [wait('low1', LOW), wait('normal1', NORMAL), wait('high1', HIGH), wait('low2', LOW), wait('high2', HIGH), wait('normal2', NORMAL)]
    for (let i = 0; i < all.length; i++) {
      release()
      await flush()
    }
    await Promise.all(all)
    expect(served).toEqual(['high1', 'high2', 'normal1', 'normal2', 'low1', 'low2'])
    expect(bulkhead.snapshot()).toMatchObject({ active: 1, queued: 0 })
  })

  it('a full queue gives a higher arrival the place of the newest lowest waiter, which is rejected', async () => {
    const { bulkhead, served, rejected, wait, release } = full(1, 3)
    const all = [wait('low1', LOW), wait('normal1', NORMAL), wait('low2', LOW)]
    all.push(wait('high1', HIGH))
    await flush()
    expect(rejected).toEqual(['low2'])
    all.push(wait('normal2', NORMAL))
    await flush()
    expect(rejected).toEqual(['low2', 'low1'])
    expect(bulkhead.snapshot()).toMatchObject({ queued: 3, rejected: 2 })
    for (let i = 0; i < 3; i++) {
      release()
      await flush()
    }
    await Promise.all(all)
    expect(served).toEqual(['high1', 'normal1', 'normal2'])
  })

  it('a full queue rejects an arrival with no lower-priority waiter to displace', async () => {
    const { rejected, wait, release } = full(1, 2)
    const all = [wait('normal1', NORMAL), wait('normal2', NORMAL), wait('normal3', NORMAL), wait('low', LOW)]
    await flush()
    expect(rejected).toEqual(['normal3', 'low'])
    const high = full(1, 1)
    const highs = [high.wait('high1', HIGH), high.wait('high2', HIGH)]
    await flush()
    expect(high.rejected).toEqual(['high2'])
    high.release()
    release()
    await flush()
    release()
    await Promise.all([...all, ...highs])
  })

  it('maxQueue 0 rejects every arrival at once, whatever its priority', async () => {
    const { rejected, wait } = full(1, 0)
    await wait('high', HIGH)
    expect(rejected).toEqual(['high'])
  })

  it('a waiter that leaves (abort, queueTimeout) frees its place in its own priority', async () => {
    const { bulkhead, served, wait, release } = full(1, 5)
    const controller = new AbortController()
    const aborted = bulkhead.acquire(controller.signal, Infinity, 0, HIGH)
    const rest = [wait('low', LOW), wait('high2', HIGH)]
    controller.abort('bye')
    expect(await aborted).toEqual({ kind: 'aborted', reason: 'bye' })
    expect(bulkhead.queued).toBe(2)
    release()
    await flush()
    expect(served).toEqual(['high2'])
    vi.advanceTimersByTime(5_000)
    await Promise.all(rest)
    expect(bulkhead.snapshot()).toMatchObject({ queued: 0, active: 1, rejected: 1 })
    expect(vi.getTimerCount()).toBe(0)
  })
})

describe('priorityOf', () => {
  it('resilience.priority wins; else init.priority high/low; else normal', () => {
    expect(priorityOf('low', 'high')).toBe(LOW)
    expect(priorityOf('normal', 'high')).toBe(NORMAL)
    expect(priorityOf(undefined, 'high')).toBe(HIGH)
    expect(priorityOf(undefined, 'low')).toBe(LOW)
    expect(priorityOf(undefined, 'auto')).toBe(NORMAL)
    expect(priorityOf(undefined, undefined)).toBe(NORMAL)
  })
})
