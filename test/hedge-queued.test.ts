/**
 * The hedge delay is for an upstream that is slow to answer: an attempt still waiting at a gate (a full bulkhead's
 * queue) has not been sent. A hedge then would wait in the same queue behind it (it can never beat it), and take a
 * place there that another caller needs, or, of a higher priority, evict that caller. No hedge starts while an attempt
 * of the call is still waiting at a gate.
 */
import type { ServerResponse } from 'node:http'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { createResilientFetch } from '../src/index.js'
import { controlledTransport } from './helpers.js'
import { tailServer } from './tail-server.js'

afterEach(() => {
  vi.useRealTimers()
})

/** One permit and two places in the queue; a fixed hedge delay of 50 ms, no budget. */
const OPTIONS = { bulkhead: { maxConcurrent: 1, maxQueue: 2, queueTimeout: 10_000 }, hedge: { delay: 50, budget: false }, breaker: false, retry: false, fallback: false } as const

describe('a call waiting in the bulkhead queue', () => {
  it('gets no hedge at the delay: a low-priority caller queued behind it keeps its place', async () => {
    vi.useFakeTimers({ now: 1_000_000 })
    const c = controlledTransport()
    const rf = createResilientFetch({ ...OPTIONS, fetch: c.fetch })
    // A POST (never hedged) holds the permit.
    const holder = rf('https://a.test/post', { method: 'POST', body: 'x' })
    const high = rf('https://a.test/high', { resilience: { priority: 'high' } })
    const low = rf('https://a.test/low', { resilience: { priority: 'low' } })
    let lowSettled: unknown
    low.then(
      () => (lowSettled = 'resolved'),
      (error: Error) => (lowSettled = error.name),
    )
    await vi.advanceTimersByTimeAsync(200)
    expect(lowSettled).toBeUndefined()
    expect(rf.snapshot()).toMatchObject({ totals: { hedges: 0 }, bulkheads: [{ active: 1, queued: 2, rejected: 0 }] })
    for (const path of ['post', 'high', 'low']) {
      await vi.waitFor(() => expect(c.pending.map((p) => p.url)).toEqual([`https://a.test/${path}`]))
      c.pending[0]!.respond(200)
    }
    await Promise.all([holder, high, low])
    expect(lowSettled).toBe('resolved')
  })

  it('once sent, it is hedged as before when slow', async () => {
    vi.useFakeTimers({ now: 1_000_000 })
    const c = controlledTransport()
    const rf = createResilientFetch({ ...OPTIONS, fetch: c.fetch, bulkhead: { maxConcurrent: 2, maxQueue: 0 } })
    const call = rf('https://a.test/x')
    await vi.advanceTimersByTimeAsync(50)
    expect(c.pending).toHaveLength(2)
    c.pending[1]!.respond(200)
    await call
    expect(rf.snapshot().totals.hedges).toBe(1)
  })

  it('against a real server on 127.0.0.1: the queued high-priority GET is not hedged, and the low one is not evicted', async () => {
    const held: ServerResponse[] = []
    const server = await tailServer((_req, res) => void held.push(res))
    try {
      const rf = createResilientFetch(OPTIONS)
      const holder = rf(`${server.origin}/post`, { method: 'POST', body: 'x' })
      await server.received(1)
      const high = rf(`${server.origin}/high`, { resilience: { priority: 'high' } })
      const low = rf(`${server.origin}/low`, { resilience: { priority: 'low' } })
      const outcome = (call: Promise<Response>) => call.then((r) => r.text(), (error: Error) => error.name)
      const answers = [outcome(holder), outcome(high), outcome(low)]
      const settled = Promise.race([answers[2], new Promise((resolve) => setTimeout(resolve, 300, 'still queued'))])
      // Well past the hedge delay: before, the high call's hedge evicted the low one at 50 ms.
      expect(await settled).toBe('still queued')
      expect(rf.snapshot().totals.hedges).toBe(0)
      for (let i = 0; i < 3; i++) {
        await server.received(i + 1)
        held[i]!.writeHead(200).end(server.seen[i]!.path)
      }
      expect(await Promise.all(answers)).toEqual(['/post', '/high', '/low'])
    } finally {
      await server.close()
    }
  })
})
