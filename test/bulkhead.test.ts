import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { BulkheadRejectedError, TimeoutError, createResilientFetch } from '../src/index.js'
import { controlledTransport, flush } from './helpers.js'

const URL_A = 'https://a.test/x'

beforeEach(() => {
  vi.useFakeTimers({ now: 1_000_000 })
})
afterEach(() => {
  vi.useRealTimers()
})

function make(bulkhead: { maxConcurrent?: number; maxQueue?: number; queueTimeout?: number }, timeout: object | false = false) {
  const c = controlledTransport()
  const rf = createResilientFetch({ fetch: c.fetch, bulkhead, retry: false, fallback: false, timeout: timeout as never, breaker: false })
  const rejects: string[] = []
  rf.addEventListener('reject', (e) => rejects.push(e.detail.reason))
  const bulk = () => rf.snapshot().bulkheads[0]!
  return { c, rf, bulk, rejects }
}

describe('bulkhead', () => {
  it('lets maxConcurrent attempts through and queues the rest in FIFO order', async () => {
    const { c, rf, bulk } = make({ maxConcurrent: 2, maxQueue: 10 })
    const calls = [1, 2, 3, 4].map((i) => rf(`${URL_A}?${i}`))
    await flush()
    expect(c.pending.map((p) => p.url)).toEqual([`${URL_A}?1`, `${URL_A}?2`])
    expect(bulk()).toMatchObject({ active: 2, queued: 2, maxConcurrent: 2, maxQueue: 10 })
    c.pending[1]!.respond(200)
    await flush(10)
    expect(c.pending.map((p) => p.url)).toEqual([`${URL_A}?1`, `${URL_A}?3`])
    c.pending[0]!.respond(200)
    await flush(10)
    expect(c.pending.map((p) => p.url)).toEqual([`${URL_A}?3`, `${URL_A}?4`])
    c.pending[0]!.respond(200)
    c.pending[0]!.respond(200)
    await Promise.all(calls)
    expect(bulk()).toMatchObject({ active: 0, queued: 0 })
  })

  it('releases the permit when headers arrive, before the body is read', async () => {
    const { c, rf, bulk } = make({ maxConcurrent: 1 })
    const p = rf(URL_A)
    await flush()
    c.pending[0]!.respond(200, undefined, new ReadableStream({ start() {} }))
    const response = await p
    expect(bulk().active).toBe(0)
    await response.body!.cancel()
  })

  it('rejects at once when the queue is full (maxQueue 0 = no queue)', async () => {
    const { c, rf, bulk, rejects } = make({ maxConcurrent: 1, maxQueue: 0 })
    const first = rf(URL_A)
    const error = await rf(URL_A).catch((e) => e)
    expect(error).toBeInstanceOf(BulkheadRejectedError)
    expect(error).toMatchObject({ name: 'BulkheadRejectedError', key: 'https://a.test', active: 1, queued: 0 })
    expect(bulk().rejected).toBe(1)
    expect(rejects).toEqual(['bulkhead'])
    expect(rf.snapshot().totals.rejected).toBe(1)
    await flush()
    c.pending[0]!.respond(200)
    await first
  })

  it('a waiter that passes queueTimeout leaves the queue with BulkheadRejectedError', async () => {
    const { c, rf, bulk } = make({ maxConcurrent: 1, queueTimeout: 100 })
    const first = rf(URL_A)
    const waiting = rf(URL_A).catch((e) => e)
    await flush()
    expect(bulk().queued).toBe(1)
    vi.advanceTimersByTime(100)
    expect(await waiting).toBeInstanceOf(BulkheadRejectedError)
    expect(bulk()).toMatchObject({ active: 1, queued: 0, rejected: 1 })
    c.pending[0]!.respond(200)
    await first
    expect(bulk().active).toBe(0)
    expect(vi.getTimerCount()).toBe(0)
  })

  it('the total deadline bounds the queue wait when it is shorter', async () => {
    const { c, rf } = make({ maxConcurrent: 1, queueTimeout: 10_000 }, { attempt: false, total: 300 })
    const first = rf(URL_A).catch((e) => e)
    const waiting = rf(URL_A).catch((e) => e)
    await flush()
    vi.advanceTimersByTime(300)
    const error = await waiting
    expect(error).toBeInstanceOf(TimeoutError)
    expect(error.scope).toBe('total')
    expect((await first).scope).toBe('total')
    expect(c.pending).toHaveLength(0)
  })

  it('an aborted waiter leaves the queue with the abort reason and holds no permit', async () => {
    const { c, rf, bulk } = make({ maxConcurrent: 1 })
    const first = rf(URL_A)
    const controller = new AbortController()
    const waiting = rf(URL_A, { signal: controller.signal }).catch((e) => e)
    await flush()
    controller.abort('bye')
    expect(await waiting).toBe('bye')
    expect(bulk()).toMatchObject({ active: 1, queued: 0 })
    c.pending[0]!.respond(200)
    await first
    expect(bulk()).toMatchObject({ active: 0, queued: 0 })
    expect(vi.getTimerCount()).toBe(0)
  })

  it('permits are released whatever the outcome: network error, timeout, user abort', async () => {
    const { c, rf, bulk } = make({ maxConcurrent: 3 }, { attempt: 50, total: false })
    const controller = new AbortController()
    const calls = [rf(URL_A), rf(URL_A), rf(URL_A, { signal: controller.signal })].map((p) => p.catch((e) => e))
    await flush()
    c.pending[0]!.fail()
    await flush()
    controller.abort()
    vi.advanceTimersByTime(50)
    const [network, timeout, abort] = await Promise.all(calls)
    expect(network).toBeInstanceOf(TypeError)
    expect(timeout).toBeInstanceOf(TimeoutError)
    expect(abort.name).toBe('AbortError')
    expect(bulk()).toMatchObject({ active: 0, queued: 0 })
  })

  it('keys have separate bulkheads', async () => {
    const { c, rf } = make({ maxConcurrent: 1, maxQueue: 0 })
    const a = rf('https://a.test/')
    const b = rf('https://b.test/')
    await flush()
    expect(c.pending).toHaveLength(2)
    c.pending[0]!.respond(200)
    c.pending[0]!.respond(200)
    await Promise.all([a, b])
  })
})
