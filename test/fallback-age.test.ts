/**
 * A response's own Age (RFC 9111 5.1: the seconds it spent in caches, a CDN's or another resilient fetch's, before it
 * came) is part of a copy's age: the copy is served with its true Age and only while that is within maxAge. A copy
 * served by a fallback (a page through its Service Worker, a client through the proxy) is never stored again as new:
 * on a store the two share, that would keep a stale copy alive past maxAge for as long as it is asked for.
 */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import type { FallbackRequest, NormalizedFallbackOptions } from '../src/fallback.js'
import { createFallback } from './fallback-helper.js'
import { createResilientFetch, memoryStore } from '../src/index.js'
import type { FallbackStore } from '../src/types.js'

const URL_A = 'https://api.example.com/items'
const request = (): FallbackRequest => ({ url: URL_A, headers: new Headers() })
const MAX_AGE = 3_600_000

/** Fallbacks on one store with one clock, as a page and its Service Worker on the origin's Cache API. */
function setup(store: FallbackStore = memoryStore()) {
  let time = 1_700_000_000_000
  const errors: unknown[] = []
  const options: NormalizedFallbackOptions = { store, maxAge: MAX_AGE, maxBodyBytes: 1_000_000, private: false }
  const make = () => createFallback(options, (_type, detail) => errors.push(detail.error), () => time)
  const fallback = make()
  const work: Promise<unknown>[] = []
  return {
    fallback,
    make,
    store,
    errors,
    now: () => time,
    advance: (ms: number) => void (time += ms),
    async remember(on: typeof fallback, response: Response) {
      on.remember(request(), response, (p) => work.push(p))
      await Promise.all(work)
    },
  }
}

const ageOf = async (found: Promise<{ response: Response } | undefined>) => (await found)?.response.headers.get('age')

describe("a response's own Age", () => {
  it('counts in the age of its copy: served with its true Age, and only while that is within maxAge', async () => {
    const t = setup()
    await t.remember(t.fallback, new Response('cdn', { headers: { age: '600' } }))
    expect(await ageOf(t.fallback.recall(request()))).toBe('600')
    t.advance(MAX_AGE - 600_000)
    expect(await ageOf(t.fallback.recall(request()))).toBe('3600')
    t.advance(1)
    expect(await t.fallback.recall(request())).toBeUndefined()
    expect(t.errors).toEqual([])
  })

  it('a response already older than maxAge when it came is never served', async () => {
    const t = setup()
    await t.remember(t.fallback, new Response('stale', { headers: { age: String(MAX_AGE / 1000 + 1) } }))
    expect(await t.fallback.recall(request())).toBeUndefined()
    expect(t.errors).toEqual([])
  })

  it('a response already older than maxAge when it came does not replace a younger copy', async () => {
    const t = setup()
    await t.remember(t.fallback, new Response('young', { headers: { age: '60' } }))
    t.advance(5_000)
    await t.remember(t.fallback, new Response('stale', { headers: { age: String(MAX_AGE / 1000 + 1) } }))
    const found = (await t.fallback.recall(request()))!.response
    expect(await found.text()).toBe('young')
    expect(found.headers.get('age')).toBe('65')
    expect(t.errors).toEqual([])
  })

  it('a response exactly maxAge old when it came is not kept either (it could be served for no time at all)', async () => {
    const t = setup()
    await t.remember(t.fallback, new Response('young'))
    t.advance(5_000)
    await t.remember(t.fallback, new Response('edge', { headers: { age: String(MAX_AGE / 1000) } }))
    expect(await (await t.fallback.recall(request()))!.response.text()).toBe('young')
  })

  it.each(['', 'soon', '-5', '1, 2'])('an Age that is not a number of seconds (%j) counts as none', async (age) => {
    const t = setup()
    await t.remember(t.fallback, new Response('x', { headers: { age } }))
    expect(await ageOf(t.fallback.recall(request()))).toBe('0')
  })
})

describe('a copy a fallback served', () => {
  it('is not stored again as new by the resilient fetch in front, on a store the two share: it still expires at maxAge', async () => {
    const t = setup()
    const front = t.make()
    await t.remember(t.fallback, new Response('v1'))
    // Half a second into a whole second: the Age it is served with is rounded down.
    t.advance(MAX_AGE - 1_500)
    const served = (await t.fallback.recall(request()))!.response
    expect(served.headers.get('age')).toBe(String(MAX_AGE / 1000 - 2))
    await t.remember(front, served)
    t.advance(1_501)
    expect(await t.fallback.recall(request())).toBeUndefined()
    expect(await front.recall(request())).toBeUndefined()
  })
})

describe('against a real upstream on 127.0.0.1', () => {
  let upstream: Server
  let relay: Server
  let origin: string
  let relayOrigin: string
  let status = 200
  // The relay answers with what a resilient fetch of its own gives it (a proxy, a Service Worker).
  const shared = memoryStore()
  const back = createResilientFetch({ retry: false, fallback: { store: shared } })

  beforeAll(async () => {
    upstream = createServer((req, res) => {
      const age = new URL(req.url!, 'http://x').searchParams.get('age')
      res.writeHead(status, { 'content-type': 'text/plain', ...(age === null ? {} : { age }) }).end(`status ${status}`)
    })
    relay = createServer(async (req, res) => {
      const answer = await back(`${origin}${req.url}`)
      res.writeHead(answer.status, Object.fromEntries(answer.headers)).end(await answer.text())
    })
    for (const server of [upstream, relay]) await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    origin = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`
    relayOrigin = `http://127.0.0.1:${(relay.address() as AddressInfo).port}`
  })

  afterAll(async () => {
    for (const server of [upstream, relay]) {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    }
  })

  it('a copy of a response that came with an Age is served with that Age and more; one older than maxAge is not served', async () => {
    status = 200
    const rf = createResilientFetch({ retry: false, fallback: { store: memoryStore(), maxAge: MAX_AGE } })
    await (await rf(`${origin}/cdn?age=3590`)).text()
    await (await rf(`${origin}/old?age=3601`)).text()
    status = 503
    const copy = await rf(`${origin}/cdn?age=3590`)
    expect(copy.headers.get('x-resilient-source')).toBe('fallback')
    expect(Number(copy.headers.get('age'))).toBeGreaterThanOrEqual(3590)
    const none = await rf(`${origin}/old?age=3601`)
    expect(none.status).toBe(503)
    expect(none.headers.get('x-resilient-source')).toBeNull()
  })

  it('a copy the relay served is not stored again as new by a resilient fetch in front of it on the same store', async () => {
    status = 200
    const work: Promise<unknown>[] = []
    const waitUntil = (p: Promise<unknown>) => void work.push(p)
    await (await back(`${origin}/shared`, { resilience: { waitUntil } })).text()
    // The work handed over may hand over more (the copy's write, once the fallback's code has loaded).
    while (work.length > 0) await work.shift()
    const kept = await shared.get(`GET ${origin}/shared`)
    expect(kept).toBeDefined()
    status = 503
    const put = vi.spyOn(shared, 'put')
    // The front asks the relay for the upstream's URL (a page asks its Service Worker): the same key in the same store.
    const front = createResilientFetch({ retry: false, fallback: { store: shared }, fetch: (input, init) => fetch(String(input).replace(origin, relayOrigin), init) })
    const answer = await front(`${origin}/shared`, { resilience: { waitUntil } })
    expect(answer.headers.get('x-resilient-source')).toBe('fallback')
    expect(await answer.text()).toBe('status 200')
    while (work.length > 0) await work.shift()
    expect(put).not.toHaveBeenCalled()
    expect((await shared.get(`GET ${origin}/shared`))!.storedAt).toBe(kept!.storedAt)
  })
})
