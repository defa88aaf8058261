import { afterEach, describe, expect, it, vi } from 'vitest'
import { createResilientFetch } from '../src/index.js'
import { controlledTransport } from './helpers.js'

afterEach(() => {
  vi.useRealTimers()
})

describe('a call that waited in the bulkhead queue', () => {
  it('is hedged once sent, when the upstream is slow to answer it', async () => {
    vi.useFakeTimers({ now: 1_000_000 })
    const c = controlledTransport()
    const rf = createResilientFetch({ fetch: c.fetch, bulkhead: { maxConcurrent: 2, maxQueue: 1, queueTimeout: 10_000 }, hedge: { delay: 50, budget: false }, breaker: false, retry: false, fallback: false, timeout: false })
    // Two POSTs (never hedged) hold both permits; the GET waits in the queue past its hedge delay.
    const holders = [rf('https://a.test/p1', { method: 'POST', body: 'x' }), rf('https://a.test/p2', { method: 'POST', body: 'x' })]
    const hedges: unknown[] = []
    rf.addEventListener('hedge', (e) => hedges.push(e.detail))
    const call = rf('https://a.test/get')
    await vi.advanceTimersByTimeAsync(120)
    expect(rf.snapshot().totals.hedges).toBe(0)
    c.pending[0]!.respond(200)
    await vi.advanceTimersByTimeAsync(0)
    expect(c.pending.map((p) => p.url)).toEqual(['https://a.test/p2', 'https://a.test/get'])
    // The GET is sent and the upstream sits on it: well past another delay, a hedge goes.
    c.pending[0]!.respond(200)
    await vi.advanceTimersByTimeAsync(200)
    expect(rf.snapshot().totals.hedges).toBe(1)
    // Due at 50 and 100 ms while the GET was queued, at 150 ms once it had been sent: the event says how long the call waited.
    expect(hedges).toEqual([{ key: 'https://a.test', attempt: 2, delay: 150 }])
    expect(c.pending.map((p) => p.url)).toEqual(['https://a.test/get', 'https://a.test/get'])
    c.pending[1]!.respond(200)
    const response = await call
    expect(response.status).toBe(200)
    await Promise.all(holders)
  })
})
