// The proxy's last-known-good copies and what it tells /events, in Node on fake time (mutation testing of
// src/worker/proxy.ts): the copy's X-Resilient-Source, Age and exposed headers, its count, its resilienceInfo,
// a failing store logged, and a page's preflight answered as the origins last did while they are down.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { createProxy, type ProxyHandler } from '../src/worker/proxy.js'
import type { ProxyConfig } from '../src/worker/config.js'
import { resilienceInfo } from '../src/info.js'
import type { ResilienceSnapshot } from '../src/types.js'

const A = 'http://a.test'
const B = 'http://b.test'
const PAGE = 'https://page.test'
const T0 = 1_000_000

beforeEach(() => {
  vi.useFakeTimers({ now: T0 })
  vi.spyOn(console, 'log').mockImplementation(() => {})
})
afterEach(() => {
  vi.useRealTimers()
  vi.restoreAllMocks()
})

/** A transport whose answer the test switches: `status` 200 answers `body` with `headers`, any other is that failure. */
function switchable(headers: Record<string, string> = {}) {
  const state = { status: 200, body: 'v1', asked: 0 }
  const fetch = (async () => {
    state.asked++
    return state.status === 200 ? new Response(state.body, { headers }) : new Response('down', { status: state.status })
  }) as typeof globalThis.fetch
  return { state, fetch }
}

/** A Worker ExecutionContext whose background work (the copy's store) the test waits for. */
function context() {
  const pending: Promise<unknown>[] = []
  return {
    waitUntil: (promise: Promise<unknown>) => void pending.push(promise),
    async settle() {
      while (pending.length > 0) await Promise.allSettled(pending.splice(0))
    },
  }
}

function proxyOf(config: ProxyConfig): ProxyHandler {
  return createProxy({ upstream: A, store: 'memory', ...config })
}

const req = (path = '/api/x', init?: RequestInit) => new Request(`http://proxy.test${path}`, init)
const snapshotOf = async (handler: ProxyHandler) => (await (await handler(req('/metrics.json'))).json()) as ResilienceSnapshot

/** Stores the copy of one good answer, then fails the origin. */
async function withCopy(config: ProxyConfig, origin: ReturnType<typeof switchable>, init?: RequestInit) {
  const handler = proxyOf({ fetch: origin.fetch, ...config })
  const ctx = context()
  expect(await (await handler(req('/api/x', init), undefined, ctx)).text()).toBe('v1')
  await ctx.settle()
  origin.state.status = 503
  return { handler, ctx }
}

describe('the last known good copy', () => {
  it('answers a failure: X-Resilient-Source: fallback, its Age, counted in /metrics.json and /metrics', async () => {
    const origin = switchable({ 'x-kept': 'yes' })
    const { handler, ctx } = await withCopy({}, origin)
    await vi.advanceTimersByTimeAsync(3_500)
    const copy = await handler(req(), undefined, ctx)
    expect(copy.status).toBe(200)
    expect(copy.headers.get('x-resilient-source')).toBe('fallback')
    expect(copy.headers.get('age')).toBe('3')
    expect(copy.headers.get('x-kept')).toBe('yes')
    // No origin granted a page: nothing exposed.
    expect(copy.headers.get('access-control-expose-headers')).toBeNull()
    expect(await copy.text()).toBe('v1')
    expect((await snapshotOf(handler)).totals).toMatchObject({ fallbacks: 1, failures: 1 })
    expect(await (await handler(req('/metrics'))).text()).toContain('resilient_fetch_fallbacks_total 1\n')
  })

  it("its resilienceInfo: from the fallback, the request's first origin, the attempts that reached an origin, when stored", async () => {
    const origin = switchable()
    const { handler, ctx } = await withCopy({ routes: { '/api/': [A, B] }, failureThreshold: 10 }, origin)
    const copy = await handler(req(), undefined, ctx)
    expect(resilienceInfo(copy)).toEqual({ source: 'fallback', key: B, attempts: 2, storedAt: T0 })
  })

  it('attempts counts network errors and timeouts as origins reached', async () => {
    let failing = false
    const fetch = (async (input: RequestInfo | URL, init?: RequestInit) => {
      if (!failing) return new Response('v1')
      if (String(input).startsWith(A)) throw new TypeError('network down')
      return new Promise((_, reject) => init!.signal!.addEventListener('abort', () => reject(init!.signal!.reason)))
    }) as typeof globalThis.fetch
    const handler = proxyOf({ fetch, routes: { '/api/': [A, B] }, failureThreshold: 10, timeout: 500 })
    const ctx = context()
    await (await handler(req(), undefined, ctx)).text()
    await ctx.settle()
    failing = true
    const pending = handler(req(), undefined, ctx)
    await vi.advanceTimersByTimeAsync(500)
    expect(resilienceInfo(await pending)).toMatchObject({ source: 'fallback', attempts: 2 })
  })

  it('attempts counts only the origins that were reached: a refused one is not', async () => {
    const origin = switchable()
    const { handler, ctx } = await withCopy({ failureThreshold: 1 }, origin)
    // The first failure opens the breaker; the second request is refused at the gate.
    expect(resilienceInfo(await handler(req(), undefined, ctx))).toMatchObject({ source: 'fallback', attempts: 1 })
    expect(resilienceInfo(await handler(req(), undefined, ctx))).toMatchObject({ source: 'fallback', attempts: 0 })
    // The copy stored first keeps the hop-by-hop rules: nothing here to drop, the same copy.
    expect(origin.state.asked).toBe(2)
  })

  it('a copy an origin let a page read exposes X-Resilient-Source and Age, after what the origin exposed', async () => {
    const origin = switchable({ 'access-control-allow-origin': '*', 'access-control-expose-headers': 'X-Kept' })
    const { handler, ctx } = await withCopy({}, origin)
    const copy = await handler(req(), undefined, ctx)
    expect(copy.headers.get('x-resilient-source')).toBe('fallback')
    expect(copy.headers.get('access-control-expose-headers')).toBe('X-Kept, X-Resilient-Source, Age')
  })

  it('a copy an origin let a page read, exposing nothing: X-Resilient-Source and Age alone', async () => {
    const origin = switchable({ 'access-control-allow-origin': PAGE })
    const { handler, ctx } = await withCopy({}, origin, { headers: { origin: PAGE } })
    const copy = await handler(req('/api/x', { headers: { origin: PAGE } }), undefined, ctx)
    expect(copy.headers.get('access-control-expose-headers')).toBe('X-Resilient-Source, Age')
  })

  it('hop-by-hop headers never reach the client, live or from the copy', async () => {
    const origin = switchable({ connection: 'x-hop', 'x-hop': 'secret', 'keep-alive': 'timeout=5', 'x-kept': 'yes' })
    const handler = proxyOf({ fetch: origin.fetch })
    const ctx = context()
    const live = await handler(req(), undefined, ctx)
    expect([live.headers.get('x-hop'), live.headers.get('keep-alive'), live.headers.get('x-kept')]).toEqual([null, null, 'yes'])
    expect(resilienceInfo(live)).toMatchObject({ source: 'network', key: A, attempts: 1 })
    expect(await live.text()).toBe('v1')
    await ctx.settle()
    origin.state.status = 503
    const copy = await handler(req(), undefined, ctx)
    expect([copy.headers.get('x-hop'), copy.headers.get('keep-alive'), copy.headers.get('x-kept')]).toEqual([null, null, 'yes'])
    expect(resilienceInfo(copy)).toMatchObject({ source: 'fallback', key: A })
  })

  it('a copy stored with hop-by-hop headers (before these rules) is served without them', async () => {
    const entry = { url: 'http://proxy.test/api/x', status: 200, statusText: 'OK', headers: [['connection', 'x-hop'], ['x-hop', 'secret'], ['x-kept', 'yes']] as [string, string][], body: new TextEncoder().encode('old').buffer, storedAt: T0 }
    const store = { get: async () => entry, put: async () => {}, delete: async () => {}, clear: async () => {} }
    const origin = switchable()
    origin.state.status = 503
    const copy = await proxyOf({ fetch: origin.fetch, store })(req())
    expect(copy.headers.get('x-resilient-source')).toBe('fallback')
    expect([copy.headers.get('x-hop'), copy.headers.get('connection'), copy.headers.get('x-kept')]).toEqual([null, null, 'yes'])
    expect(resilienceInfo(copy)).toMatchObject({ source: 'fallback', key: A, attempts: 1, storedAt: T0 })
    expect(await copy.text()).toBe('old')
  })

  it('a store that fails is logged, naming the origin; the 503 stands', async () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {})
    const broken = new Error('store down')
    const store = { get: async () => Promise.reject(broken), put: async () => {}, delete: async () => {}, clear: async () => {} }
    const origin = switchable()
    origin.state.status = 503
    const response = await proxyOf({ fetch: origin.fetch, store })(req())
    expect(response.status).toBe(503)
    expect(warn).toHaveBeenCalledWith(`resilient-fetch proxy: fallback store failed for ${A}:`, broken)
  })

  it('the copy is stored off the response, through waitUntil', async () => {
    const origin = switchable()
    const handler = proxyOf({ fetch: origin.fetch })
    const ctx = context()
    const waitUntil = vi.spyOn(ctx, 'waitUntil')
    await (await handler(req(), undefined, ctx)).text()
    expect(waitUntil).toHaveBeenCalled()
    await ctx.settle()
    origin.state.status = 503
    expect((await handler(req(), undefined, ctx)).headers.get('x-resilient-source')).toBe('fallback')
  })
})

describe('what never becomes a copy', () => {
  it("an interim 101 with no body (workerd's, for an Upgrade nobody asked for) is no answer: the copy is served, one attempt", async () => {
    let interim = false
    const fetch = (async () => {
      if (!interim) return new Response('v1')
      return Object.defineProperty(new Response(null, { headers: { connection: 'upgrade', upgrade: 'websocket' } }), 'status', { value: 101 })
    }) as typeof globalThis.fetch
    const handler = proxyOf({ fetch })
    const ctx = context()
    await (await handler(req(), undefined, ctx)).text()
    await ctx.settle()
    interim = true
    const copy = await handler(req(), undefined, ctx)
    expect(copy.headers.get('x-resilient-source')).toBe('fallback')
    expect(resilienceInfo(copy)).toMatchObject({ source: 'fallback', key: A, attempts: 1 })
    expect(await copy.text()).toBe('v1')
  })

  it("an answer to a request with credentials: another client's failure gets no copy of it", async () => {
    const origin = switchable()
    const handler = proxyOf({ fetch: origin.fetch })
    const ctx = context()
    expect(await (await handler(req('/api/x', { headers: { authorization: 'Bearer user-1' } }), undefined, ctx)).text()).toBe('v1')
    await ctx.settle()
    origin.state.status = 503
    expect((await handler(req(), undefined, ctx)).status).toBe(503)
  })
})

describe("a page's preflight while the origins are down", () => {
  const preflight = () => req('/api/x', { method: 'OPTIONS', headers: { origin: PAGE, 'access-control-request-method': 'GET', 'access-control-request-headers': 'authorization' } })
  const granted = { 'access-control-allow-origin': PAGE, 'access-control-allow-headers': 'authorization', 'access-control-allow-methods': 'GET' }

  it("is answered as the origins last answered it, so the request it clears can read the 503", async () => {
    let status = 204
    const fetch = (async () => new Response(null, { status, headers: status === 204 ? granted : {} })) as typeof globalThis.fetch
    const handler = proxyOf({ fetch })
    expect((await handler(preflight())).status).toBe(204)
    status = 500
    const replay = await handler(preflight())
    expect(replay.status).toBe(204)
    expect(replay.headers.get('access-control-allow-headers')).toBe('authorization')
    expect(replay.headers.get('access-control-allow-origin')).toBe(PAGE)
    // A request that names a method to ask for, but is no OPTIONS, is no preflight: the 503.
    expect((await handler(req('/api/x', { headers: { origin: PAGE, 'access-control-request-method': 'GET' } }))).status).toBe(503)
    // An OPTIONS that is no preflight (OPTIONS listed) gets the 503.
    const plain = await proxyOf({ fetch, methods: 'GET,OPTIONS' })(req('/api/x', { method: 'OPTIONS', headers: { origin: PAGE } }))
    expect(plain.status).toBe(503)
  })

  it('with no answer learnt: the 503, readable by the page', async () => {
    const fetch = (async () => new Response(null, { status: 500 })) as typeof globalThis.fetch
    const response = await proxyOf({ fetch })(preflight())
    expect(response.status).toBe(503)
    expect(response.headers.get('access-control-allow-origin')).toBe('*')
  })
})

describe('/events', () => {
  async function reader(handler: ProxyHandler) {
    const stream = (await handler(req('/events'))).body!.pipeThrough(new TextDecoderStream()).getReader()
    let text = ''
    const next = async (event: string): Promise<unknown> => {
      for (;;) {
        const at = text.indexOf(`event: ${event}\n`)
        const end = at < 0 ? -1 : text.indexOf('\n\n', at)
        if (end >= 0) {
          const block = text.slice(at, end)
          text = text.slice(end + 2)
          return JSON.parse(/^data: (.*)$/m.exec(block)![1]!)
        }
        const { value, done } = await stream.read()
        if (done) throw new Error(`no ${event}`)
        text += value
      }
    }
    return { next, cancel: () => stream.cancel() }
  }

  it('tells each copy served, with its origin and age, and each breaker that opens', async () => {
    const origin = switchable()
    const { handler, ctx } = await withCopy({ failureThreshold: 1 }, origin)
    const events = await reader(handler)
    await events.next('snapshot')
    await vi.advanceTimersByTimeAsync(2_000)
    await (await handler(req(), undefined, ctx)).text()
    expect(await events.next('statechange')).toEqual({ key: A, from: 'closed', to: 'open', at: T0 + 2_000 })
    expect(await events.next('fallback')).toEqual({ key: A, age: 2, at: T0 + 2_000 })
    await events.cancel()
  })

  it("the snapshot adds the proxy's retries, copies and hedges to the origins' counts", async () => {
    const origin = switchable()
    const { handler, ctx } = await withCopy({ routes: { '/api/': [A, B] }, failureThreshold: 10 }, origin)
    await (await handler(req(), undefined, ctx)).text()
    const events = await reader(handler)
    expect(await events.next('snapshot')).toMatchObject({ totals: { requests: 3, failures: 2, retries: 1, fallbacks: 1, hedges: 0 } })
    await events.cancel()
  })
})
