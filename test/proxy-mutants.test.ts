// The proxy's own endpoints and refusals, in Node (mutation testing of src/worker/proxy.ts): routing, 404/405/400/500,
// /health, the metrics token, /events, and the startup line saying where the copies live.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { createProxy, type ProxyHandler } from '../src/worker/proxy.js'
import type { ProxyConfig } from '../src/worker/config.js'
import type { KvNamespaceLike } from '../src/store/kv.js'

const A = 'http://a.test'
const B = 'http://b.test'
const C = 'http://c.test'
const JSON_TYPE = 'application/json; charset=utf-8'

beforeEach(() => void vi.useFakeTimers({ now: 1_000_000 }))
afterEach(() => {
  vi.useRealTimers()
  vi.restoreAllMocks()
})

/** A stub transport that records each request and answers through `answer`. */
function upstream(answer: (request: Request) => Response | Promise<Response> = () => Response.json({ ok: true })) {
  const seen: Request[] = []
  const fetch = async (input: RequestInfo | URL, init?: RequestInit) => {
    const request = new Request(input, init)
    seen.push(request)
    return answer(request)
  }
  return { fetch: fetch as typeof globalThis.fetch, seen }
}

function proxyOf(config: ProxyConfig = {}): ProxyHandler {
  return createProxy({ upstream: A, store: 'memory', fetch: upstream().fetch, ...config })
}

const req = (path: string, init?: RequestInit, host = 'http://proxy.test') => new Request(host + path, init)
const headersOf = (response: Response) => Object.fromEntries(response.headers)
const quiet = () => {
  vi.spyOn(console, 'log').mockImplementation(() => {})
  vi.spyOn(console, 'warn').mockImplementation(() => {})
}

describe('routing', () => {
  beforeEach(quiet)

  it('a path outside the routes: 404 not_found as no-store JSON, no upstream asked', async () => {
    const { fetch, seen } = upstream()
    const response = await proxyOf({ fetch })(req('/apiary'))
    expect(response.status).toBe(404)
    expect(headersOf(response)).toEqual({ 'content-type': JSON_TYPE, 'cache-control': 'no-store' })
    expect(await response.json()).toEqual({ error: 'not_found' })
    expect(seen).toHaveLength(0)
  })

  it('a method outside METHODS: 405 naming the methods in Allow; with an Origin, readable by the page (Allow exposed)', async () => {
    const { fetch, seen } = upstream()
    const handler = proxyOf({ fetch, methods: 'GET,PUT' })
    const plain = await handler(req('/api/x', { method: 'DELETE' }))
    expect(plain.status).toBe(405)
    expect(headersOf(plain)).toEqual({ 'content-type': JSON_TYPE, 'cache-control': 'no-store', allow: 'GET, PUT' })
    expect(await plain.json()).toEqual({ error: 'method_not_allowed' })
    const fromPage = await handler(req('/api/x', { method: 'DELETE', headers: { origin: 'https://page.test' } }))
    expect(fromPage.headers.get('access-control-allow-origin')).toBe('*')
    expect(fromPage.headers.get('access-control-expose-headers')).toBe('Allow')
    expect(seen).toHaveLength(0)
  })

  it('an OPTIONS goes to the origin when it is a preflight for a listed method, or OPTIONS is listed; else 405', async () => {
    const { fetch, seen } = upstream(() => new Response(null, { status: 204 }))
    const handler = proxyOf({ fetch })
    const preflight = (method: string) => req('/api/x', { method: 'OPTIONS', headers: { origin: 'https://page.test', 'access-control-request-method': method } })
    expect((await handler(preflight('GET'))).status).toBe(204)
    expect((await handler(preflight('PUT'))).status).toBe(405)
    expect((await handler(req('/api/x', { method: 'OPTIONS' }))).status).toBe(405)
    expect((await proxyOf({ fetch, methods: 'GET,OPTIONS' })(req('/api/x', { method: 'OPTIONS' }))).status).toBe(204)
    // Only an OPTIONS is a preflight: a PUT that names a listed method in Access-Control-Request-Method is still a PUT.
    expect((await proxyOf({ fetch, methods: 'GET' })(req('/api/x', { method: 'PUT', body: 'x', headers: { 'access-control-request-method': 'GET' } }))).status).toBe(405)
    expect(seen.map((r) => r.method)).toEqual(['OPTIONS', 'OPTIONS'])
  })

  it('a path that would leave the origin: 400 bad_path, readable by the page, no upstream asked', async () => {
    const { fetch, seen } = upstream()
    const response = await proxyOf({ fetch })(req('/api/..%2fadmin', { headers: { origin: 'https://page.test' } }))
    expect(response.status).toBe(400)
    expect(await response.json()).toEqual({ error: 'bad_path' })
    expect(response.headers.get('access-control-allow-origin')).toBe('*')
    expect(response.headers.get('content-type')).toBe(JSON_TYPE)
    expect(seen).toHaveLength(0)
  })

  it('a bad path on the second origin of a pool is a 400 too', async () => {
    const { fetch, seen } = upstream()
    const handler = proxyOf({ fetch, routes: { '/api/': [A, `${B}/base`] } })
    // Fine under A's root; under B's base path, '..%2f' could leave it either way: both are checked first.
    expect((await handler(req('/api/..%2fx'))).status).toBe(400)
    expect(seen).toHaveLength(0)
  })

  it("a client's body that fails to read: 500 internal, logged, never shown; readable by the page", async () => {
    const error = vi.spyOn(console, 'error').mockImplementation(() => {})
    const { fetch, seen } = upstream()
    const handler = proxyOf({ fetch, routes: { '/api/': [A, B] }, methods: 'PUT' })
    const body = new ReadableStream({ pull: (controller) => controller.error(new Error('client went away: secret detail')) })
    const response = await handler(req('/api/x', { method: 'PUT', body, duplex: 'half', headers: { origin: 'https://page.test' } } as RequestInit))
    expect(response.status).toBe(500)
    expect(await response.json()).toEqual({ error: 'internal' })
    expect(response.headers.get('access-control-allow-origin')).toBe('*')
    expect(error).toHaveBeenCalledWith('resilient-fetch proxy:', expect.objectContaining({ message: 'client went away: secret detail' }))
    expect(seen).toHaveLength(0)
  })
})

describe('/health', () => {
  beforeEach(quiet)

  it('GET and HEAD answer 200 no-store JSON: each origin of every route closed, ok, where the copies live', async () => {
    const handler = proxyOf({ routes: { '/api/': [A, B], '/img/': C } })
    const response = await handler(req('/health'))
    expect(response.status).toBe(200)
    expect(headersOf(response)).toEqual({ 'content-type': JSON_TYPE, 'cache-control': 'no-store' })
    expect(await response.json()).toEqual({ status: 'ok', breakers: { [A]: 'closed', [B]: 'closed', [C]: 'closed' }, fallback: 'memory' })
    expect((await handler(req('/health', { method: 'HEAD' }))).status).toBe(200)
  })

  it('another method: 405 with Allow: GET, HEAD', async () => {
    const response = await proxyOf()(req('/health', { method: 'POST', body: 'x' }))
    expect(response.status).toBe(405)
    expect(response.headers.get('allow')).toBe('GET, HEAD')
    expect(await response.json()).toEqual({ error: 'method_not_allowed' })
  })

  it('degraded while one origin is open, ok again once it closed', async () => {
    let down = true
    const { fetch } = upstream((request) => (down && request.url.startsWith(A) ? new Response('down', { status: 500 }) : new Response('up')))
    const handler = proxyOf({ fetch, routes: { '/api/': [A, B] }, failureThreshold: 1, openDuration: 5_000 })
    await handler(req('/api/x'))
    expect(await (await handler(req('/health'))).json()).toEqual({ status: 'degraded', breakers: { [A]: 'open', [B]: 'closed' }, fallback: 'memory' })
    down = false
    await vi.advanceTimersByTimeAsync(5_000)
    // The rotation starts this one at B: the next one probes A.
    await handler(req('/api/x'))
    await handler(req('/api/x'))
    expect(await (await handler(req('/health'))).json()).toMatchObject({ status: 'ok', breakers: { [A]: 'closed', [B]: 'closed' } })
  })
})

describe('where the copies live: /health and the startup line', () => {
  const kv: KvNamespaceLike = {
    getWithMetadata: async () => ({ value: null, metadata: null }),
    put: async () => {},
    delete: async () => {},
    list: async () => ({ keys: [], list_complete: true }),
  } as unknown as KvNamespaceLike
  const custom = { get: async () => undefined, put: async () => {}, delete: async () => {}, clear: async () => {} }

  it.each([
    ['kv', { lastKnownGood: kv, store: undefined }, 'http://proxy.test', 'Workers KV (LAST_KNOWN_GOOD)'],
    ['kv', { lastKnownGood: kv, store: undefined }, 'https://me.workers.dev', 'Workers KV (LAST_KNOWN_GOOD)'],
    ['memory', {}, 'https://me.workers.dev', "this isolate's memory"],
    ['custom', { store: custom }, 'http://proxy.test', 'the store given to createProxy'],
    ['cache', { store: undefined }, 'http://proxy.test', 'the Cache API (this data centre only; bind a KV namespace as LAST_KNOWN_GOOD to share them)'],
  ] as const)('%s (%j at %s): logged once, on the first request', async (kind, config, host, described) => {
    const log = vi.spyOn(console, 'log').mockImplementation(() => {})
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {})
    const handler = proxyOf(config as ProxyConfig)
    expect(log).not.toHaveBeenCalled()
    expect(await (await handler(req('/health', undefined, host))).json()).toMatchObject({ fallback: kind })
    await handler(req('/health', undefined, host))
    expect(log.mock.calls).toEqual([[`resilient-fetch proxy: last-known-good copies in ${described}`]])
    expect(warn).not.toHaveBeenCalled()
  })

  it('the Cache API on *.workers.dev: off, and one warning to bind KV', async () => {
    const log = vi.spyOn(console, 'log').mockImplementation(() => {})
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {})
    const handler = proxyOf({ store: undefined })
    expect(await (await handler(req('/health', undefined, 'https://me.workers.dev'))).json()).toMatchObject({ fallback: 'off' })
    await handler(req('/health', undefined, 'https://me.workers.dev'))
    expect(warn.mock.calls).toEqual([
      ['resilient-fetch proxy: no last-known-good copies: the Cache API does nothing on *.workers.dev; bind a KV namespace as LAST_KNOWN_GOOD (see wrangler.toml)'],
    ])
    expect(log).not.toHaveBeenCalled()
    // Another host of the same isolate sees the Cache API at work.
    expect(await (await handler(req('/health'))).json()).toMatchObject({ fallback: 'cache' })
  })
})

describe('/metrics, /metrics.json and /events', () => {
  beforeEach(quiet)
  const TOKEN = 's3cret-token'

  it('/metrics: Prometheus text, no-store; /metrics.json: the snapshot as no-store JSON', async () => {
    const handler = proxyOf()
    await handler(req('/api/x'))
    const text = await handler(req('/metrics'))
    expect(headersOf(text)).toEqual({ 'content-type': 'text/plain; version=0.0.4; charset=utf-8', 'cache-control': 'no-store' })
    expect(await text.text()).toContain('resilient_fetch_requests_total 1\n')
    const json = await handler(req('/metrics.json'))
    expect(headersOf(json)).toEqual({ 'content-type': JSON_TYPE, 'cache-control': 'no-store' })
    expect(await json.json()).toMatchObject({ totals: { requests: 1, successes: 1, retries: 0, fallbacks: 0, hedges: 0 } })
  })

  it.each(['/metrics', '/metrics.json', '/events'])('%s: 405 with Allow: GET, HEAD for another method', async (path) => {
    const response = await proxyOf({ metricsToken: TOKEN })(req(path, { method: 'POST', body: 'x' }))
    expect(response.status).toBe(405)
    expect(response.headers.get('allow')).toBe('GET, HEAD')
  })

  it.each(['/metrics', '/metrics.json', '/events'])('%s: without a token set, open to anyone, whatever Authorization says', async (path) => {
    const response = await proxyOf()(req(path, { headers: { authorization: 'Bearer whatever' } }))
    expect(response.status).toBe(200)
    await response.body?.cancel()
  })

  it.each([
    ['Bearer s3cret-token', 200],
    ['bearer s3cret-token', 200],
    ['BEARER \t s3cret-token \t', 200],
    [undefined, 401],
    ['Bearer', 401],
    ['Bearer ', 401],
    ['Bearer s3cret-tokeN', 401],
    ['Bearer s3cret-toke', 401],
    ['Bearer s3cret-token2', 401],
    ['Bearer s3cret-token extra', 401],
    ['Bearers3cret-token', 401],
    ['xBearer s3cret-token', 401],
    ['Basic s3cret-token', 401],
    ['s3cret-token', 401],
  ])('Authorization %j: %i', async (authorization, status) => {
    const handler = proxyOf({ metricsToken: TOKEN })
    for (const path of ['/metrics', '/metrics.json', '/events']) {
      const response = await handler(req(path, { headers: authorization === undefined ? {} : { authorization } }))
      expect(response.status, path).toBe(status)
      if (status === 401) {
        expect(response.headers.get('www-authenticate')).toBe('Bearer')
        expect(response.headers.get('content-type')).toBe(JSON_TYPE)
        expect(await response.json()).toEqual({ error: 'unauthorized' })
      } else await response.body?.cancel()
    }
  })

  it('the token as ?token= opens /events only, and only when it is the token', async () => {
    const handler = proxyOf({ metricsToken: TOKEN })
    const events = await handler(req(`/events?token=${TOKEN}`))
    expect(events.status).toBe(200)
    await events.body?.cancel()
    expect((await handler(req('/events?token=s3cret-tokem'))).status).toBe(401)
    expect((await handler(req('/events?token='))).status).toBe(401)
    expect((await handler(req('/events?other=s3cret-token'))).status).toBe(401)
    expect((await handler(req(`/metrics?token=${TOKEN}`))).status).toBe(401)
    expect((await handler(req(`/metrics.json?token=${TOKEN}`))).status).toBe(401)
    // A wrong Bearer is the answer, whatever the query says.
    expect((await handler(req(`/events?token=${TOKEN}`, { headers: { authorization: 'Bearer wrong' } }))).status).toBe(401)
    // An Authorization that is no Bearer leaves the query to decide.
    const basic = await handler(req(`/events?token=${TOKEN}`, { headers: { authorization: 'Basic x' } }))
    expect(basic.status).toBe(200)
    await basic.body?.cancel()
  })

  it('a token with a character past the given one is refused, not read as 0', async () => {
    const handler = proxyOf({ metricsToken: 'ab\0' })
    expect((await handler(req('/metrics', { headers: { authorization: 'Bearer ab' } }))).status).toBe(401)
  })

  it('/events: HEAD gets the stream headers and no body; GET the stream, a snapshot first', async () => {
    const handler = proxyOf()
    const head = await handler(req('/events', { method: 'HEAD' }))
    expect(head.status).toBe(200)
    expect(headersOf(head)).toEqual({ 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', 'x-accel-buffering': 'no' })
    expect(head.body).toBeNull()
    const stream = await handler(req('/events'))
    expect(stream.headers.get('content-type')).toBe('text/event-stream; charset=utf-8')
    const reader = stream.body!.pipeThrough(new TextDecoderStream()).getReader()
    expect((await reader.read()).value).toMatch(/^event: snapshot\ndata: \{/)
    await reader.cancel()
  })
})
