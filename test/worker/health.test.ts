// GET /health in each breaker state and for each place the copies live; the startup log line;
// /events with METRICS_TOKEN as a query parameter; the header rules for stored copies.
import { env } from 'cloudflare:workers'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { createProxy, type Health, type ProxyHandler } from '../../src/worker/index.js'
import type { KvNamespaceLike } from '../../src/store/kv.js'
import { context, fakeUpstream, get, ORIGIN, proxy } from './helpers.js'

const KV = env.LAST_KNOWN_GOOD as KvNamespaceLike

async function healthOf(handler: ProxyHandler, url = 'http://proxy.test/health'): Promise<Health> {
  const response = await handler(new Request(url))
  expect(response.status).toBe(200)
  expect(response.headers.get('cache-control')).toBe('no-store')
  return (await response.json()) as Health
}

afterEach(() => {
  vi.useRealTimers()
  vi.restoreAllMocks()
})

describe('GET /health', () => {
  it('ok while closed; degraded while open and half-open, naming the origin; ok again once a probe closes it', async () => {
    vi.useFakeTimers({ toFake: ['Date'], now: 1_800_000_000_000 })
    let down = true
    const upstream = fakeUpstream(() => (down ? new Response('down', { status: 503 }) : Response.json({ ok: true })))
    const handler = proxy({ fetch: upstream.fetch, failureThreshold: 2, openDuration: 10_000 })
    expect(await healthOf(handler)).toEqual({ status: 'ok', breakers: { [ORIGIN]: 'closed' }, fallback: 'memory' })
    await handler(get('/api/x'))
    expect((await healthOf(handler)).status).toBe('ok')
    await handler(get('/api/x'))
    expect(await healthOf(handler)).toEqual({ status: 'degraded', breakers: { [ORIGIN]: 'open' }, fallback: 'memory' })
    vi.advanceTimersByTime(10_000)
    expect(await healthOf(handler)).toEqual({ status: 'degraded', breakers: { [ORIGIN]: 'half-open' }, fallback: 'memory' })
    down = false
    expect((await handler(get('/api/x'))).status).toBe(200)
    expect(await healthOf(handler)).toEqual({ status: 'ok', breakers: { [ORIGIN]: 'closed' }, fallback: 'memory' })
  })

  it('lists every configured origin; one open origin makes the proxy degraded', async () => {
    const upstream = fakeUpstream((request) => (new URL(request.url).host === 'a.test' ? new Response('down', { status: 500 }) : Response.json({ ok: true })))
    const handler = createProxy({ routes: { '/api/': ['http://a.test'], '/img/': ['http://b.test', 'http://c.test'] }, fetch: upstream.fetch, store: 'memory', failureThreshold: 1 })
    expect((await healthOf(handler)).breakers).toEqual({ 'http://a.test': 'closed', 'http://b.test': 'closed', 'http://c.test': 'closed' })
    await handler(get('/api/x'))
    await handler(get('/img/x'))
    expect(await healthOf(handler)).toEqual({
      status: 'degraded',
      breakers: { 'http://a.test': 'open', 'http://b.test': 'closed', 'http://c.test': 'closed' },
      fallback: 'memory',
    })
  })

  it("says where the copies live: 'kv' with LAST_KNOWN_GOOD, 'cache' without, 'off' for the Cache API on *.workers.dev", async () => {
    vi.spyOn(console, 'log').mockImplementation(() => {})
    vi.spyOn(console, 'warn').mockImplementation(() => {})
    const kv = createProxy({ upstream: ORIGIN, lastKnownGood: KV })
    const cache = createProxy({ upstream: ORIGIN })
    expect((await healthOf(kv)).fallback).toBe('kv')
    expect((await healthOf(kv, 'https://proxy.example.workers.dev/health')).fallback).toBe('kv')
    expect((await healthOf(cache)).fallback).toBe('cache')
    expect((await healthOf(cache, 'https://proxy.example.workers.dev/health')).fallback).toBe('off')
  })

  it('only GET and HEAD', async () => {
    const response = await proxy({ fetch: fakeUpstream().fetch })(get('/health', { method: 'POST' }))
    expect(response.status).toBe(405)
  })
})

describe('HEAD /events', () => {
  it("answers the stream's headers alone: no stream behind them (workerd would never answer it), the token still checked", async () => {
    const handler = proxy({ fetch: fakeUpstream().fetch, metricsToken: 's3cret-token' })
    const head = await handler(get('/events', { method: 'HEAD', headers: { authorization: 'Bearer s3cret-token' } }))
    expect(head.status).toBe(200)
    expect(head.headers.get('content-type')).toBe('text/event-stream; charset=utf-8')
    expect(head.headers.get('cache-control')).toBe('no-store')
    expect(head.body).toBeNull()
    expect((await handler(get('/events', { method: 'HEAD' }))).status).toBe(401)
  })
})

describe('the startup log line', () => {
  it('one line on the first request saying where the copies live; a warning on *.workers.dev without KV', async () => {
    const log = vi.spyOn(console, 'log').mockImplementation(() => {})
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {})
    const kv = createProxy({ upstream: ORIGIN, lastKnownGood: KV, fetch: fakeUpstream().fetch })
    await kv(new Request('https://proxy.example.workers.dev/api/x'))
    await kv(new Request('https://proxy.example.workers.dev/api/x'))
    expect(log.mock.calls).toEqual([['resilient-fetch proxy: last-known-good copies in Workers KV (LAST_KNOWN_GOOD)']])
    log.mockClear()
    const cache = createProxy({ upstream: ORIGIN, fetch: fakeUpstream().fetch })
    await cache(get('/health'))
    expect(log.mock.calls).toHaveLength(1)
    expect(log.mock.calls[0][0]).toMatch(/^resilient-fetch proxy: last-known-good copies in the Cache API \(this data centre only/)
    expect(warn).not.toHaveBeenCalled()
    const onWorkersDev = createProxy({ upstream: ORIGIN, fetch: fakeUpstream().fetch })
    await onWorkersDev(new Request('https://proxy.example.workers.dev/api/x'))
    await onWorkersDev(new Request('https://proxy.example.workers.dev/api/x'))
    expect(warn.mock.calls).toHaveLength(1)
    expect(warn.mock.calls[0][0]).toMatch(/no last-known-good copies: the Cache API does nothing on \*\.workers\.dev; bind a KV namespace as LAST_KNOWN_GOOD/)
  })
})

describe('METRICS_TOKEN as a query parameter', () => {
  it('opens /events (EventSource cannot send headers), and only /events', async () => {
    const handler = proxy({ fetch: fakeUpstream().fetch, metricsToken: 's3cret-token' })
    const events = await handler(get('/events?token=s3cret-token'))
    expect(events.status).toBe(200)
    expect(events.headers.get('content-type')).toBe('text/event-stream; charset=utf-8')
    await events.body?.cancel()
    for (const query of ['', '?token=wrong', '?token=s3cret-tokeN', '?token=', '?access_token=s3cret-token']) {
      expect((await handler(get(`/events${query}`))).status, query).toBe(401)
    }
    for (const path of ['/metrics', '/metrics.json']) expect((await handler(get(`${path}?token=s3cret-token`))).status, path).toBe(401)
    // A wrong header is not rescued by a right query parameter.
    expect((await handler(get('/events?token=s3cret-token', { headers: { authorization: 'Bearer wrong' } }))).status).toBe(401)
  })
})

describe('stored copies obey the live header rules', () => {
  it('a copy served on failure carries none of the hop-by-hop headers the live answer dropped', async () => {
    let fail = false
    const hop = {
      connection: 'x-hop-secret',
      'x-hop-secret': 'internal',
      'keep-alive': 'timeout=5',
      'proxy-authenticate': 'Basic realm="internal"',
      'proxy-connection': 'keep-alive',
      upgrade: 'h2c',
      te: 'trailers',
      trailer: 'x-checksum',
      'x-kept': 'yes',
    }
    const upstream = fakeUpstream(() => (fail ? new Response('down', { status: 503 }) : Response.json({ v: 1 }, { headers: hop })))
    const handler = proxy({ fetch: upstream.fetch })
    const ctx = context()
    const live = await handler(get('/api/data'), undefined, ctx)
    await ctx.settle()
    fail = true
    const stored = await handler(get('/api/data'), undefined, ctx)
    expect(stored.headers.get('x-resilient-source')).toBe('fallback')
    for (const response of [live, stored]) {
      for (const name of Object.keys(hop).filter((n) => n !== 'x-kept')) expect(response.headers.has(name), name).toBe(false)
      expect(response.headers.get('x-kept')).toBe('yes')
      expect(await response.json()).toEqual({ v: 1 })
    }
  })

  it('a copy stored with hop-by-hop headers (by an earlier version) loses them when served', async () => {
    const entry = {
      url: `${ORIGIN}/data`,
      status: 200,
      statusText: 'OK',
      headers: [
        ['content-type', 'text/plain'],
        ['upgrade', 'h2c'],
        ['proxy-authenticate', 'Basic'],
        ['x-kept', 'yes'],
      ] as [string, string][],
      body: new TextEncoder().encode('old').buffer as ArrayBuffer,
      storedAt: Date.now(),
    }
    const store = { get: async () => entry, put: async () => {}, delete: async () => {}, clear: async () => {} }
    const handler = createProxy({ upstream: ORIGIN, store, fetch: fakeUpstream(() => new Response('down', { status: 500 })).fetch })
    const response = await handler(get('/api/data'))
    expect(response.headers.get('x-resilient-source')).toBe('fallback')
    expect(response.headers.has('upgrade')).toBe(false)
    expect(response.headers.has('proxy-authenticate')).toBe(false)
    expect(response.headers.get('x-kept')).toBe('yes')
    expect(await response.text()).toBe('old')
  })
})

describe('a served copy is announced and tagged like the library’s', () => {
  it('/events sends `event: fallback` with the key and age; resilienceInfo says fallback', async () => {
    const { resilienceInfo } = await import('../../src/index.js')
    let fail = false
    const upstream = fakeUpstream(() => (fail ? new Response('down', { status: 503 }) : Response.json({ v: 1 })))
    const handler = proxy({ fetch: upstream.fetch })
    const ctx = context()
    const live = await handler(get('/api/data'), undefined, ctx)
    expect(resilienceInfo(live)).toMatchObject({ source: 'network', key: ORIGIN, attempts: 1 })
    await ctx.settle()
    const events = await handler(get('/events'))
    const reader = events.body!.pipeThrough(new TextDecoderStream()).getReader()
    let text = ''
    while (!text.includes('event: snapshot\n')) text += (await reader.read()).value
    fail = true
    const copy = await handler(get('/api/data'), undefined, ctx)
    expect(copy.headers.get('x-resilient-source')).toBe('fallback')
    expect(resilienceInfo(copy)).toEqual({ source: 'fallback', key: ORIGIN, attempts: 1, storedAt: expect.any(Number) })
    while (!/event: fallback\ndata: .*\n\n/.test(text)) text += (await reader.read()).value
    await reader.cancel()
    const data = JSON.parse(/event: fallback\ndata: (.*)\n/.exec(text)![1])
    expect(data).toEqual({ key: ORIGIN, age: 0, at: expect.any(Number) })
  })
})
