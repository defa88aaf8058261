// The proxy's failures, in Node on fake time (mutation testing of src/worker/proxy.ts): the 503 bodies and Retry-After,
// failover to the next healthy origin and its one retry, what the proxy forgives (429, 501), and when an open origin probes.
import { describe, expect, it, vi } from 'vitest'
import { createProxy, type ProxyHandler } from '../src/worker/proxy.js'
import type { ProxyConfig } from '../src/worker/config.js'
import type { ResilienceSnapshot } from '../src/types.js'
import { quietFakeTime } from './worker/helpers.js'

const A = 'http://a.test'
const B = 'http://b.test'
const PAGE = 'https://page.test'

quietFakeTime()

type Answer = (request: Request) => Response | Promise<Response>

/** A stub transport for origins A and B: records each request and answers through the origin's own `answer`. */
function origins(answers: Record<string, Answer>) {
  const seen: Request[] = []
  const fetch = async (input: RequestInfo | URL, init?: RequestInit) => {
    const request = new Request(input, init)
    seen.push(request)
    return answers[new URL(request.url).origin]!(request)
  }
  return { fetch: fetch as typeof globalThis.fetch, seen, asked: () => seen.map((r) => new URL(r.url).origin) }
}

function proxyOf(config: ProxyConfig): ProxyHandler {
  return createProxy({ upstream: A, store: 'memory', ...config })
}

const req = (path = '/api/x', init?: RequestInit) => new Request(`http://proxy.test${path}`, init)
const down = (status = 500) => () => new Response('down', { status })
const up = (body: string) => () => new Response(body)
const hangs: Answer = (request) => new Promise((_, reject) => request.signal.addEventListener('abort', () => reject(request.signal.reason)))
const snapshotOf = async (handler: ProxyHandler) => (await (await handler(req('/metrics.json'))).json()) as ResilienceSnapshot
const failure = async (response: Response) => [response.status, response.headers.get('retry-after'), await response.json()]

describe('the 503 and its Retry-After', () => {
  it('a network error: upstream_error, Retry-After 1, no-store JSON naming the origin only', async () => {
    const { fetch } = origins({
      [A]: () => {
        throw new TypeError('connection refused at secret-host:1234')
      },
    })
    const response = await proxyOf({ fetch })(req())
    expect(response.headers.get('content-type')).toBe('application/json; charset=utf-8')
    expect(response.headers.get('cache-control')).toBe('no-store')
    expect(await failure(response)).toEqual([503, '1', { error: 'upstream_error', key: A }])
  })

  it("a failure status: upstream_error, the origin's body cancelled; a status that is no failure passes through", async () => {
    let cancelled = false
    let status = 500
    const body = () => new ReadableStream({ pull: (c) => c.enqueue(new TextEncoder().encode('x')), cancel: () => void (cancelled = true) })
    const { fetch } = origins({ [A]: () => new Response(body(), { status }) })
    const handler = proxyOf({ fetch })
    expect(await failure(await handler(req()))).toEqual([503, '1', { error: 'upstream_error', key: A }])
    expect(cancelled).toBe(true)
    status = 404
    const passed = await handler(req())
    expect(passed.status).toBe(404)
    expect(passed.headers.get('retry-after')).toBeNull()
    await passed.body?.cancel()
  })

  it('no headers within the attempt timeout: timeout, the attempt aborted', async () => {
    const { fetch, seen } = origins({ [A]: hangs })
    const pending = proxyOf({ fetch, timeout: 300 })(req())
    await vi.advanceTimersByTimeAsync(299)
    expect(seen[0]!.signal.aborted).toBe(false)
    await vi.advanceTimersByTimeAsync(1)
    expect(await failure(await pending)).toEqual([503, '1', { error: 'timeout', key: A }])
    expect(seen[0]!.signal.aborted).toBe(true)
  })

  it('the failure that opens the breaker says when it probes; a refusal then says what is left, rounded up', async () => {
    const { fetch, seen } = origins({ [A]: down() })
    const handler = proxyOf({ fetch, failureThreshold: 2, openDuration: 7_000 })
    expect(await failure(await handler(req()))).toEqual([503, '1', { error: 'upstream_error', key: A }])
    expect(await failure(await handler(req()))).toEqual([503, '7', { error: 'upstream_error', key: A }])
    await vi.advanceTimersByTimeAsync(2_500)
    expect(await failure(await handler(req()))).toEqual([503, '5', { error: 'circuit_open', key: A }])
    await vi.advanceTimersByTimeAsync(4_400)
    expect(await failure(await handler(req()))).toEqual([503, '1', { error: 'circuit_open', key: A }])
    expect(seen).toHaveLength(2)
    // Refused at the gate: the origin's breaker counts a rejection each time.
    expect((await snapshotOf(handler)).breakers).toMatchObject([{ key: A, state: 'open', rejected: 2 }])
  })

  it('network errors are failures: FAILURE_THRESHOLD of them within WINDOW_MS open the breaker', async () => {
    const { fetch } = origins({
      [A]: () => {
        throw new TypeError('network down')
      },
    })
    const handler = proxyOf({ fetch, failureThreshold: 2, window: 1_000, openDuration: 5_000 })
    expect(await failure(await handler(req()))).toEqual([503, '1', { error: 'upstream_error', key: A }])
    // Past the window the first is forgotten: the breaker stays closed.
    await vi.advanceTimersByTimeAsync(1_001)
    expect(await failure(await handler(req()))).toEqual([503, '1', { error: 'upstream_error', key: A }])
    expect(await failure(await handler(req()))).toEqual([503, '5', { error: 'upstream_error', key: A }])
    expect((await snapshotOf(handler)).breakers).toMatchObject([{ key: A, state: 'open', failures: 2 }])
  })

  it("an origin's 503 with Retry-After opens it that long, and the 503 says so", async () => {
    const { fetch } = origins({ [A]: () => new Response('busy', { status: 503, headers: { 'retry-after': '120' } }) })
    const handler = proxyOf({ fetch, openDuration: 5_000 })
    expect(await failure(await handler(req()))).toEqual([503, '120', { error: 'upstream_error', key: A }])
    await vi.advanceTimersByTimeAsync(60_000)
    expect(await failure(await handler(req()))).toEqual([503, '60', { error: 'circuit_open', key: A }])
  })

  it('a full bulkhead: bulkhead_full, Retry-After 1', async () => {
    let release!: () => void
    const { fetch } = origins({ [A]: () => new Promise((resolve) => (release = () => resolve(new Response('late')))) })
    const handler = proxyOf({ fetch, maxConcurrent: 1 })
    const first = handler(req())
    await vi.advanceTimersByTimeAsync(0)
    expect(await failure(await handler(req()))).toEqual([503, '1', { error: 'bulkhead_full', key: A }])
    release()
    expect(await (await first).text()).toBe('late')
  })

  it('readable by the page, Retry-After exposed: granted as the origin last granted that page', async () => {
    let status = 200
    const { fetch } = origins({ [A]: () => new Response('x', { status, headers: { 'access-control-allow-origin': PAGE, 'access-control-allow-credentials': 'true' } }) })
    const handler = proxyOf({ fetch })
    // Another URL each time, so no copy of the first answers the second.
    const fromPage = (path: string) => req(path, { headers: { origin: PAGE } })
    await (await handler(fromPage('/api/one'))).text()
    status = 500
    const response = await handler(fromPage('/api/two'))
    expect(response.status).toBe(503)
    expect(response.headers.get('access-control-allow-origin')).toBe(PAGE)
    expect(response.headers.get('access-control-allow-credentials')).toBe('true')
    expect(response.headers.get('access-control-expose-headers')).toBe('Retry-After')
    // Without an Origin: no grant.
    expect((await handler(req('/api/two'))).headers.get('access-control-allow-origin')).toBeNull()
  })
})

describe('failover across a pool', () => {
  it('spreads requests in turn over healthy origins, per route', async () => {
    const { fetch, asked } = origins({ [A]: up('a'), [B]: up('b') })
    const handler = proxyOf({ fetch, routes: { '/one/': [A, B], '/two/': [A, B] } })
    for (let i = 0; i < 2; i++) for (const route of ['one', 'two']) await (await handler(req(`/${route}/x`))).text()
    expect(asked()).toEqual([A, A, B, B])
  })

  it('a GET that fails on one origin is retried once on the next: its answer, counted as a retry', async () => {
    const { fetch, asked } = origins({ [A]: down(502), [B]: up('b') })
    const handler = proxyOf({ fetch, routes: { '/api/': [A, B] }, failureThreshold: 10 })
    const response = await handler(req())
    expect([response.status, await response.text()]).toEqual([200, 'b'])
    expect(asked()).toEqual([A, B])
    expect((await snapshotOf(handler)).totals).toMatchObject({ retries: 1, requests: 2, failures: 1, successes: 1 })
  })

  it('both fail: the 503 names the origin that failed last', async () => {
    const { fetch, asked } = origins({ [A]: down(), [B]: down() })
    const handler = proxyOf({ fetch, routes: { '/api/': [A, B] }, failureThreshold: 10 })
    expect(await failure(await handler(req()))).toEqual([503, '1', { error: 'upstream_error', key: B }])
    expect(await failure(await handler(req()))).toEqual([503, '1', { error: 'upstream_error', key: A }])
    expect(asked()).toEqual([A, B, B, A])
  })

  it('a POST is sent once; a PUT is retried with the same body', async () => {
    const bodies: string[] = []
    const record = (answer: Answer) => async (request: Request) => (bodies.push(`${request.method} ${await request.text()}`), answer(request))
    const { fetch, asked } = origins({ [A]: record(down(502)), [B]: record(down(502)) })
    const handler = proxyOf({ fetch, routes: { '/api/': [A, B] }, methods: 'POST,PUT', failureThreshold: 10 })
    expect((await handler(req('/api/x', { method: 'POST', body: 'once' }))).status).toBe(503)
    expect((await handler(req('/api/x', { method: 'PUT', body: 'twice' }))).status).toBe(503)
    expect(bodies).toEqual(['POST once', 'PUT twice', 'PUT twice'])
    expect(asked()).toEqual([A, B, A])
  })

  it('a single origin streams the body through', async () => {
    const { fetch } = origins({ [A]: async (request) => new Response(`${request.method} ${await request.text()}`) })
    const response = await proxyOf({ fetch, methods: 'PUT' })(req('/api/x', { method: 'PUT', body: 'streamed' }))
    expect(await response.text()).toBe('PUT streamed')
  })

  it('an open origin is tried last until its probe is due, then first again in its turn', async () => {
    let aDown = true
    const { fetch, asked } = origins({ [A]: () => (aDown ? new Response('down', { status: 500 }) : new Response('a')), [B]: up('b') })
    const handler = proxyOf({ fetch, routes: { '/api/': [A, B] }, failureThreshold: 1, openDuration: 10_000 })
    for (let i = 0; i < 4; i++) expect(await (await handler(req())).text()).toBe('b')
    // A failed once and opened: skipped since, not even asked to refuse.
    expect(asked()).toEqual([A, B, B, B, B])
    expect((await snapshotOf(handler)).breakers.find((b) => b.key === A)).toMatchObject({ state: 'open', rejected: 0 })
    aDown = false
    await vi.advanceTimersByTimeAsync(9_999)
    await (await handler(req())).text()
    expect(asked().at(-1)).toBe(B)
    await vi.advanceTimersByTimeAsync(1)
    // The rotation puts A first on every other request: the first of those probes it.
    const bodies = [await (await handler(req())).text(), await (await handler(req())).text()]
    expect(bodies.sort()).toEqual(['a', 'b'])
    expect((await snapshotOf(handler)).breakers.find((b) => b.key === A)).toMatchObject({ state: 'closed' })
  })

  it('every origin open: circuit_open naming the one that probes first, with what it has left; each asked once, and skipped while open', async () => {
    let aDown = true
    let bDown = false
    const { fetch } = origins({ [A]: () => new Response(aDown ? 'down' : 'a', { status: aDown ? 500 : 200 }), [B]: () => new Response(bDown ? 'down' : 'b', { status: bDown ? 500 : 200 }) })
    const handler = proxyOf({ fetch, routes: { '/api/': [A, B] }, failureThreshold: 1, openDuration: 10_000 })
    expect((await handler(req('/api/0'))).status).toBe(200)
    await vi.advanceTimersByTimeAsync(2_000)
    bDown = true
    expect(await failure(await handler(req('/api/1')))).toEqual([503, '10', { error: 'upstream_error', key: B }])
    await vi.advanceTimersByTimeAsync(1_000)
    // Whichever the rotation asks first, A (7 s left) is named, not B (9 s left).
    for (let i = 2; i < 4; i++) expect(await failure(await handler(req(`/api/${i}`)))).toEqual([503, '7', { error: 'circuit_open', key: A }])
    const rejected = async () => Object.fromEntries((await snapshotOf(handler)).breakers.map((b) => [b.key, b.rejected]))
    // A refused B's retry once, then each refused both requests.
    expect(await rejected()).toEqual({ [A]: 3, [B]: 2 })
    // A's probe is due, B is open 2 s more: A answers, and B is skipped rather than asked to refuse, whatever the rotation says.
    aDown = false
    await vi.advanceTimersByTimeAsync(7_000)
    expect(await (await handler(req('/api/4'))).text()).toBe('a')
    expect(await (await handler(req('/api/5'))).text()).toBe('a')
    expect(await rejected()).toEqual({ [A]: 3, [B]: 2 })
  })

  it('a body that goes to one origin only streams through; one that may be retried is read first', async () => {
    let reached = 0
    const fetch = (async () => (reached++, new Response('ok'))) as typeof globalThis.fetch
    const send = (config: ProxyConfig, method: string) => {
      let controller!: ReadableStreamDefaultController<Uint8Array>
      const body = new ReadableStream<Uint8Array>({ start: (c) => void (controller = c) })
      controller.enqueue(new TextEncoder().encode('first'))
      return { response: proxyOf({ fetch, ...config })(req('/api/x', { method, body, duplex: 'half' } as RequestInit)), close: () => controller.close() }
    }
    const streamed: [ProxyConfig, string][] = [
      [{ methods: 'PUT' }, 'PUT'],
      [{ routes: { '/api/': [A, B] }, methods: 'POST' }, 'POST'],
    ]
    for (const [config, method] of streamed) {
      const { response, close } = send(config, method)
      await vi.advanceTimersByTimeAsync(0)
      // The origin has the request while the client is still sending its body.
      expect(reached, method).toBe(1)
      close()
      expect((await response).status).toBe(200)
      reached = 0
    }
    const { response, close } = send({ routes: { '/api/': [A, B] }, methods: 'PUT' }, 'PUT')
    await vi.advanceTimersByTimeAsync(0)
    expect(reached).toBe(0)
    close()
    expect((await response).status).toBe(200)
  })

  it('with hedge: a GET still unanswered after the delay also goes to the next origin; the first answer wins, counted', async () => {
    const { fetch, seen, asked } = origins({ [A]: hangs, [B]: up('b') })
    const handler = proxyOf({ fetch, routes: { '/api/': [A, B] }, hedge: 100 })
    const pending = handler(req())
    await vi.advanceTimersByTimeAsync(99)
    expect(asked()).toEqual([A])
    await vi.advanceTimersByTimeAsync(1)
    expect(await (await pending).text()).toBe('b')
    expect(seen[0]!.signal.aborted).toBe(true)
    expect((await snapshotOf(handler)).totals).toMatchObject({ hedges: 1, retries: 0 })
  })

  it("hedges within the library's budget: 5 + 10% of the route's requests over 10 s", async () => {
    const { fetch, asked } = origins({ [A]: hangs, [B]: up('b') })
    // A is never asked to fail: its breaker stays closed, so every request that starts there is hedged if it may be.
    const handler = proxyOf({ fetch, routes: { '/api/': [A, B] }, hedge: 100, timeout: 1_000 })
    const pending: Promise<Response>[] = []
    for (let i = 0; i < 20; i++) {
      pending.push(handler(req(`/api/${i}`)))
      await vi.advanceTimersByTimeAsync(100)
    }
    await vi.advanceTimersByTimeAsync(1_000)
    for (const response of await Promise.all(pending)) expect(await response.text()).toBe('b')
    // 10 requests started at A within 2 s; 5 + 0.1 × (up to 20) of them were hedged, the rest timed out and went to B.
    const { hedges } = (await snapshotOf(handler)).totals
    expect(hedges).toBeGreaterThanOrEqual(5)
    expect(hedges).toBeLessThanOrEqual(7)
    expect(asked().filter((origin) => origin === B)).toHaveLength(20)
  })

  it('without hedge: no second origin while the first is slow', async () => {
    const { fetch, asked } = origins({ [A]: hangs, [B]: up('b') })
    const pending = proxyOf({ fetch, routes: { '/api/': [A, B] }, timeout: 1_000 })(req())
    await vi.advanceTimersByTimeAsync(999)
    expect(asked()).toEqual([A])
    await vi.advanceTimersByTimeAsync(1)
    expect(await (await pending).text()).toBe('b')
  })
})

describe('what the proxy forgives', () => {
  it.each([429, 501])('a %i goes back to its client with its headers, opens nothing, is not retried', async (status) => {
    const { fetch, asked } = origins({ [A]: () => new Response('no', { status, headers: { 'retry-after': '3600' } }), [B]: up('b') })
    const handler = proxyOf({ fetch, routes: { '/api/': [A, B] }, failureThreshold: 1 })
    for (let i = 0; i < 3; i++) {
      const response = await handler(req(`/api/x${i}`))
      if (response.status === status) {
        expect(response.headers.get('retry-after')).toBe('3600')
        expect(await response.text()).toBe('no')
      }
    }
    expect(asked()).toEqual([A, B, A])
    const snapshot = await snapshotOf(handler)
    expect(snapshot.totals).toMatchObject({ failures: 0, retries: 0 })
    expect(snapshot.breakers.map((b) => b.state)).toEqual(['closed', 'closed'])
  })

  it.each([500, 502, 503, 504])('a %i is a failure', async (status) => {
    const { fetch } = origins({ [A]: down(status) })
    const handler = proxyOf({ fetch, failureThreshold: 1 })
    expect((await handler(req())).status).toBe(503)
    expect((await snapshotOf(handler)).breakers).toMatchObject([{ state: 'open', failures: 1 }])
  })

  it.each([101, 103])('an interim %i taken for the answer is a network error: not served, counted, the next origin asked', async (status) => {
    let cancelled = false
    const interim = () => {
      const response = new Response(new ReadableStream({ cancel: () => void (cancelled = true) }))
      return Object.defineProperty(response, 'status', { value: status })
    }
    const { fetch, asked } = origins({ [A]: interim, [B]: interim })
    const handler = proxyOf({ fetch, routes: { '/api/': [A, B] }, failureThreshold: 10 })
    expect(await failure(await handler(req()))).toEqual([503, '1', { error: 'upstream_error', key: B }])
    expect(asked()).toEqual([A, B])
    expect(cancelled).toBe(true)
    expect((await snapshotOf(handler)).totals).toMatchObject({ failures: 2, retries: 1 })
  })
})
