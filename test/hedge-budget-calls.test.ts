/**
 * The hedge budget counts calls, as the retry budget does: `min + ratio × calls` per key over 10 s, one call per rf(),
 * however many times the retry wrapper runs the hedge stage again for it.
 */
import { afterEach, describe, expect, it, vi } from 'vitest'
import { createResilientFetch } from '../src/index.js'
import { controlledTransport, flush } from './helpers.js'
import { tailServer } from './tail-server.js'

afterEach(() => {
  vi.useRealTimers()
})

describe('the hedge budget and retries', () => {
  it('a retried call is one call of the budget: min 0, ratio 1 allows one hedge for it, not one per attempt', async () => {
    vi.useFakeTimers({ now: 1_000_000 })
    const c = controlledTransport()
    const rf = createResilientFetch({
      fetch: c.fetch,
      breaker: false,
      fallback: false,
      timeout: false,
      retry: { limit: 2, backoff: { base: 10, max: 10, jitter: 'none' }, budget: false },
      hedge: { delay: 100, budget: { min: 0, ratio: 1 } },
    })
    const call = rf('https://a.test/x')
    const sent: number[] = []
    for (let attempt = 0; attempt < 3; attempt++) {
      await vi.advanceTimersByTimeAsync(100)
      sent.push(c.pending.length)
      for (const p of [...c.pending]) p.respond(503)
      await flush()
      await vi.advanceTimersByTimeAsync(10)
    }
    expect((await call).status).toBe(503)
    // The first attempt and its hedge, then each retry alone: the budget had one hedge for the one call.
    expect(sent).toEqual([2, 1, 1])
    expect(rf.snapshot().totals).toMatchObject({ requests: 1, retries: 2, hedges: 1 })
  })

  it('a call with no retry still counts once: a second call makes room for a second hedge', async () => {
    vi.useFakeTimers({ now: 1_000_000 })
    const c = controlledTransport()
    const rf = createResilientFetch({ fetch: c.fetch, breaker: false, fallback: false, timeout: false, retry: false, hedge: { delay: 100, budget: { min: 0, ratio: 1 } } })
    for (let i = 0; i < 2; i++) {
      const call = rf('https://a.test/x')
      await vi.advanceTimersByTimeAsync(100)
      expect(c.pending).toHaveLength(2)
      for (const p of [...c.pending]) p.respond(200)
      await call
    }
    expect(rf.snapshot().totals.hedges).toBe(2)
  })

  it('against a real server on 127.0.0.1: a slow failing upstream, retried twice, sees one hedge for the call', async () => {
    // Each request is answered 503 after 150 ms; the hedge is due after 30 ms.
    const server = await tailServer((_req, res) => void setTimeout(() => !res.destroyed && res.writeHead(503).end('busy'), 150))
    try {
      const rf = createResilientFetch({
        breaker: false,
        fallback: false,
        retry: { limit: 2, backoff: { base: 1, max: 1, jitter: 'none' }, budget: false },
        hedge: { delay: 30, budget: { min: 0, ratio: 1 } },
      })
      const response = await rf(`${server.origin}/item`)
      expect(response.status).toBe(503)
      await response.text()
      expect(rf.snapshot().totals).toMatchObject({ requests: 1, retries: 2, hedges: 1 })
      // Three attempts and one hedge.
      expect(server.seen).toHaveLength(4)
    } finally {
      await server.close()
    }
  })
})
