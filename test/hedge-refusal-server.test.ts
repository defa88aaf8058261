import { afterEach, describe, expect, it } from 'vitest'
import { createResilientFetch, resilienceInfo } from '../src/index.js'
import { requestBody } from './helpers.js'
import { tailServer } from './tail-server.js'

let server: Awaited<ReturnType<typeof tailServer>> | undefined
afterEach(async () => {
  await server?.close()
  server = undefined
})

/** A stream body: fetch can read it once. */
const stream = () => new ReadableStream({ start: (c) => (c.enqueue(new TextEncoder().encode('charge $10')), c.close()) })

describe('hedging and retrying against a real server on 127.0.0.1: refusals and one-shot bodies', () => {
  it('a hedge refused by the breaker that attempt 1 opened does not replace attempt 1’s 503', async () => {
    server = await tailServer((_req, res) => void setTimeout(() => res.writeHead(503, { 'content-type': 'text/plain' }).end('upstream says 503'), 100))
    const rf = createResilientFetch({
      hedge: { delay: 50 },
      retry: false,
      fallback: false,
      bulkhead: { maxConcurrent: 1, maxQueue: 10, queueTimeout: 2_000 },
      breaker: { window: 'consecutive', failureThreshold: 1 },
    })
    const response = await rf(`${server.origin}/item`)
    expect(response.status).toBe(503)
    expect(await response.text()).toBe('upstream says 503')
    expect(resilienceInfo(response)).toMatchObject({ source: 'network', attempts: 1 })
    expect(server.seen).toHaveLength(1)
    expect(rf.snapshot()).toMatchObject({ totals: { hedges: 1, failures: 1, rejected: 0 }, bulkheads: [{ active: 0, queued: 0 }] })
  })

  it('when the only attempt that reached the network fails, the call ends with it: the hedge waiting in the queue leaves', async () => {
    server = await tailServer((req, res) => {
      if (req.url!.startsWith('/hang')) return
      setTimeout(() => res.writeHead(503).end('upstream says 503'), 100)
    })
    const rf = createResilientFetch({
      hedge: { delay: 50 },
      retry: false,
      fallback: false,
      breaker: false,
      // Nothing here ends the queued hedge's wait before the test does: a call that waited for it would never end.
      bulkhead: { maxConcurrent: 2, maxQueue: 10, queueTimeout: 60_000 },
      timeout: { attempt: 60_000, total: 120_000 },
    })
    const hang = new AbortController()
    const hanging = [rf(`${server.origin}/hang1`, { signal: hang.signal, resilience: { hedge: false } }).catch(() => {})]
    const call = rf(`${server.origin}/item`)
    // Queued before the hedge: the hedge waits behind it.
    await new Promise((resolve) => setTimeout(resolve, 10))
    hanging.push(rf(`${server.origin}/hang2`, { signal: hang.signal, resilience: { hedge: false } }).catch(() => {}))
    const response = await call
    expect(response.status).toBe(503)
    expect(await response.text()).toBe('upstream says 503')
    expect(resilienceInfo(response)).toMatchObject({ attempts: 1 })
    await server.received(3)
    expect(server.seen.map((s) => s.path)).toEqual(['/hang1', '/item', '/hang2'])
    expect(rf.snapshot()).toMatchObject({ totals: { hedges: 1, failures: 1, rejected: 0 }, bulkheads: [{ active: 2, queued: 0 }] })
    hang.abort()
    await Promise.all(hanging)
  })

  /** A server that records each body and answers `status` after `ms`. */
  async function bodyServer(status: number, ms: number) {
    const bodies: string[] = []
    server = await tailServer((req, res) => {
      void requestBody(req).then((body) => {
        bodies.push(body)
        setTimeout(() => !res.destroyed && res.writeHead(status).end('ok'), ms)
      })
    })
    return { origin: server.origin, bodies }
  }

  it('a stream body is sent once with a custom key(): never hedged, even when asked', async () => {
    const { origin, bodies } = await bodyServer(200, 150)
    const rf = createResilientFetch({ hedge: { delay: 50 }, retry: false, fallback: false, key: () => 'payments' })
    const response = await rf(`${origin}/pay`, { method: 'POST', body: stream(), duplex: 'half', resilience: { hedge: true } } as RequestInit)
    expect(await response.text()).toBe('ok')
    await new Promise((resolve) => setTimeout(resolve, 200))
    expect(bodies).toEqual(['charge $10'])
    expect(rf.snapshot().totals.hedges).toBe(0)
  })

  it('a stream body is sent once with a custom key(): never retried', async () => {
    const { origin, bodies } = await bodyServer(503, 0)
    const rf = createResilientFetch({ retry: { methods: ['PUT'], backoff: { base: 1, max: 1, jitter: 'none' } }, fallback: false, breaker: false, key: () => 'payments' })
    const response = await rf(`${origin}/pay`, { method: 'PUT', body: stream(), duplex: 'half' } as RequestInit)
    expect(response.status).toBe(503)
    await response.text()
    expect(bodies).toEqual(['charge $10'])
    expect(rf.snapshot().totals.retries).toBe(0)
  })
})
