/**
 * resilient-fetch inside a real Service Worker (headless Chromium): the fetch handler answers the page's `/api/*`
 * requests through one instance on the default 'auto' store (the Cache API there), against a real upstream on
 * 127.0.0.1 (another origin, with CORS) that the tests take down, and its `/stages/*` requests through one that hedges
 * and coalesces. A Service Worker refuses import(): the main entry works there bundled into one file (a classic
 * script, an IIFE, as bundlers emit for `importScripts`-era workers, and a module), and code-split (chunks, as the
 * published build is) only through the `resilient-fetch/service-worker` entry, which loads every chunk up front.
 * The main entry code-split says so.
 */
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { openPage } from './harness.js'
import { bundleWorker, bundleWorking, CORS, createUpstream, FIX, PAGE_DIR, setListening, stopWorkers, swSuite, WORKING } from './sw-harness.js'

/** The upstream: what it answers, and what it saw. Down means not listening at all (connection refused). */
const upstream = Object.assign(
  createUpstream((req, res, path, hit) => {
    if (path === '/api/hang') {
      // Never answers headers; counts the abort when the client gives up.
      req.socket.once('close', () => upstream.hangClosed++)
      return
    }
    const json = { ...CORS, 'content-type': 'application/json' }
    // The first request hangs (a hedge answers it); the later ones answer at once.
    if (path === '/stages/hedge' && hit === 1) return void req.socket.once('close', () => upstream.hangClosed++)
    // Answered after 200 ms (before a hedge): calls in the meantime can share it.
    if (path === '/stages/together') return void setTimeout(() => res.writeHead(200, json).end(JSON.stringify({ path, hit })), 200)
    if (path === '/api/held-body') {
      res.writeHead(200, json).write('{"user":')
      return void upstream.held.push(() => res.end('"old"}'))
    }
    res.writeHead(200, json).end(JSON.stringify({ path, hit }))
  }),
  {
    /** Requests to /api/hang whose connection the client closed (the attempt deadline aborted them). */
    hangClosed: 0,
    /** Ends of the responses /api/held-body holds back until the test lets them go. */
    held: [] as (() => void)[],
  },
)

/** Takes the upstream down (connection refused: nothing listens on its port) or brings it back on the same port; '503' answers 503. */
async function setUpstream(mode: 'up' | '503' | 'down'): Promise<void> {
  upstream.failing = mode === '503'
  await setListening(upstream.server, upstream.port, mode !== 'down')
}

const suite = swSuite(upstream, {
  prefix: 'rf-sw-',
  bundle: (dir) =>
    Promise.all([
      bundleWorking(dir),
      // A module Service Worker that imports the main entry's code-split chunks, as the published build is.
      bundleWorker(join(PAGE_DIR, 'sw.ts'), dir, 'sw-split', 'split', { main: true }),
    ]),
  release: () => {
    for (const end of upstream.held.splice(0)) end()
  },
  reset: async () => {
    await setUpstream('up')
    upstream.hangClosed = 0
  },
})

const { opened, controlledPage, get, ask, stored } = suite

/** A module Service Worker that imports the main entry's code-split chunks, as the published build is. */
const SPLIT = ['split module', 'sw-split.js', 'module'] as const

describe.each(WORKING)('in a %s', (_name, script, type) => {
  it('stores a 200 in the Cache API; with the upstream down serves it as the fallback; the breaker opens and then refuses without a request', async () => {
    const { page, errors } = await controlledPage(script, type)
    const live = await get(page, '/api/items')
    expect(live).toMatchObject({ status: 200, source: null, body: JSON.stringify({ path: '/api/items', hit: 1 }) })
    // The default 'auto' store is the Cache API in a Service Worker: the copy is in the origin's cache.
    await expect.poll(() => stored(page), { timeout: 3_000 }).toEqual([`GET ${upstream.origin}/api/items`])

    // A 503, then connection refused twice: each answered with the copy, and three failures open the breaker.
    await setUpstream('503')
    expect(await get(page, '/api/items')).toMatchObject({ status: 200, source: 'fallback', body: live.body })
    await setUpstream('down')
    for (let i = 0; i < 2; i++) expect(await get(page, '/api/items')).toMatchObject({ status: 200, source: 'fallback', body: live.body })
    expect(upstream.hits.get('/api/items')).toBe(2)
    const snapshot = (await ask(page, 'snapshot')) as { breakers: { key: string; state: string; rejected: number }[] }
    expect(snapshot.breakers).toMatchObject([{ key: upstream.origin, state: 'open', rejected: 0 }])

    // Back up: the open breaker refuses at once, no request reaches the upstream, and the copy answers.
    await setUpstream('up')
    expect(await get(page, '/api/items')).toMatchObject({ status: 200, source: 'fallback', body: live.body })
    expect(upstream.hits.get('/api/items')).toBe(2)
    expect(await ask(page, 'snapshot')).toMatchObject({ breakers: [{ state: 'open', rejected: 1 }], totals: { fallbacks: 4, successes: 1 } })
    expect(await ask(page, 'events')).toEqual(['fallback', 'fallback', 'statechange', 'fallback', 'reject', 'fallback'])
    // What Chromium logs for the 503 and the refused connections is the point; nothing else may be logged.
    expect(errors.filter((error) => !/status of 503|ERR_CONNECTION_REFUSED/.test(error))).toEqual([])
  })

  it('a Service Worker stopped by the browser and started again offline finds the copy its last life stored', async () => {
    const { page } = await controlledPage(script, type)
    const live = await get(page, '/api/items')
    await expect.poll(() => stored(page), { timeout: 3_000 }).toEqual([`GET ${upstream.origin}/api/items`])
    await expect.poll(async () => ((await ask(page, 'pending')) as { waitUntil: number }).waitUntil, { timeout: 3_000 }).toBe(0)
    // As the browser does to an idle Service Worker: its memory (the instance, its counters) is gone.
    await stopWorkers(page)
    await setUpstream('down')
    expect(await get(page, '/api/items')).toMatchObject({ status: 200, source: 'fallback', body: live.body })
    // A new life: its instance counts only the call it just answered (the old one had counted two by now).
    expect(await ask(page, 'snapshot')).toMatchObject({ totals: { requests: 1, successes: 0, fallbacks: 1 } })
    expect(await ask(page, 'events')).toEqual(['fallback'])
  })

  it('an attempt deadline fires in the Service Worker: TimeoutError (attempt, 500 ms), and the upstream request is aborted', async () => {
    const { page } = await controlledPage(script, type)
    const answer = await get(page, '/api/hang')
    expect(answer).toMatchObject({ status: 504, source: null })
    expect(JSON.parse(answer.body)).toMatchObject({ name: 'TimeoutError', scope: 'attempt', timeout: 500 })
    // The attempt deadline fired, not the total one (2 s), which would say scope 'total'.
    await expect.poll(() => upstream.hangClosed, { timeout: 2_000 }).toBe(1)
    expect(upstream.hits.get('/api/hang')).toBe(1)
  })

  it("rf.clear() in the Service Worker empties the origin's 'auto' store: its own copies and the page's, which it could serve until then", async () => {
    const { context, page } = await openPage(suite.browser)
    opened.push(context)
    await page.goto(suite.site.url + '/')
    await page.waitForFunction(() => document.documentElement.dataset.ready === 'true')
    // Before the Service Worker: the page's own instance stores a copy, on its own 'auto' store.
    const own = await page.evaluate(async (url) => (await window.app.rf(url)).text(), `${upstream.origin}/api/page-only`)
    await expect.poll(() => stored(page), { timeout: 3_000 }).toEqual([`GET ${upstream.origin}/api/page-only`])
    await page.evaluate(([script, type]) => window.app.register(script, type), [script, type] as const)
    expect(await get(page, '/api/items')).toMatchObject({ status: 200, source: null })
    await expect.poll(() => stored(page), { timeout: 3_000 }).toEqual([`GET ${upstream.origin}/api/items`, `GET ${upstream.origin}/api/page-only`])

    // The Service Worker's instance serves the page's copy: one store for the origin.
    await setUpstream('down')
    expect(await get(page, '/api/page-only')).toMatchObject({ status: 200, source: 'fallback', body: own })
    await setUpstream('up')

    expect(await ask(page, 'clear')).toBe('cleared')
    expect(await stored(page)).toEqual([])
    await setUpstream('down')
    // Neither instance has a copy left to serve: the Service Worker's failure stands (a network error, its 504)…
    for (const path of ['/api/items', '/api/page-only']) {
      const answer = await get(page, path)
      expect(answer).toMatchObject({ status: 504, source: null })
      expect(JSON.parse(answer.body)).toMatchObject({ name: 'TypeError' })
    }
    // …and so does the page's, which now goes through the Service Worker: its 504, no copy of the page's own.
    const pages = await page.evaluate(async (url) => {
      const response = await window.app.rf(url)
      return `${response.status} ${response.headers.get('x-resilient-source')}`
    }, `${upstream.origin}/api/page-only`)
    expect(pages).toBe('504 null')
  })

  it("the page's rf.clear() (a logout) reaches the Service Worker: its copy in flight never lands; meanwhile its waitUntil held it", async () => {
    const { page } = await controlledPage(script, type)
    // A call through the Service Worker whose body has begun and waits for its end: its copy is being read.
    await page.evaluate(async (url) => {
      const response = await fetch(url)
      window.app.held = response.text()
    }, `${upstream.origin}/api/held-body`)
    await expect.poll(() => upstream.held.length).toBe(1)
    // The copy being read is in the event's waitUntil: the Service Worker is kept alive for it.
    expect(await ask(page, 'pending')).toMatchObject({ waitUntil: 1 })

    await page.evaluate(() => window.app.rf.clear())
    await expect.poll(() => ask(page, 'heard'), { timeout: 1_000 }).toBe(1)
    for (const end of upstream.held.splice(0)) end()
    expect(await page.evaluate(() => window.app.held)).toBe('{"user":"old"}')
    // A call after the clear is kept: once its copy is in the cache, the one before it would have landed too.
    expect(await get(page, '/api/items')).toMatchObject({ status: 200, source: null })
    await expect.poll(() => stored(page), { timeout: 3_000 }).toContain(`GET ${upstream.origin}/api/items`)
    await expect.poll(async () => ((await ask(page, 'pending')) as { waitUntil: number }).waitUntil, { timeout: 3_000 }).toBe(0)
    expect(await stored(page)).toEqual([`GET ${upstream.origin}/api/items`])

    await setUpstream('down')
    expect(await get(page, '/api/held-body')).toMatchObject({ status: 504, source: null })
    expect(await get(page, '/api/items')).toMatchObject({ status: 200, source: 'fallback' })
  })

  it('leaves nothing pending: no timer armed, every promise handed to waitUntil settled', async () => {
    const { page } = await controlledPage(script, type)
    expect(await get(page, '/api/items')).toMatchObject({ status: 200, source: null })
    expect(await get(page, '/api/hang')).toMatchObject({ status: 504 })
    await setUpstream('down')
    expect(await get(page, '/api/items')).toMatchObject({ status: 200, source: 'fallback' })
    // A deadline's shared host timer may stay armed until it is due (the attempt's 500 ms, the total's 2 s); a leaked
    // bound (a store's 1 s read or 10 s write limit left armed) or a waitUntil promise that never settles fails here.
    await expect.poll(() => ask(page, 'pending'), { timeout: 3_000 }).toEqual({ timers: 0, waitUntil: 0 })
    expect(await ask(page, 'events')).toEqual(['fallback'])
  })

  it('hedges and coalesces in the Service Worker: a hedge answers a hung request, whose socket closes; two calls at once share one request', async () => {
    const { page } = await controlledPage(script, type)
    // The first attempt hangs past its attempt deadline (1.5 s): only the hedge, sent after 400 ms, answers (the winner is
    // the hedge, and the hang's socket closes). With the default cache mode: the hedge goes around Chromium's HTTP cache.
    const hedged = await page.evaluate((url) => window.app.get(url), `${upstream.origin}/stages/hedge`)
    expect(hedged).toMatchObject({ status: 200, info: { hedged: true, coalesced: false }, body: JSON.stringify({ path: '/stages/hedge', hit: 2 }) })
    await expect.poll(() => upstream.hangClosed, { timeout: 2_000 }).toBe(1)

    const both = await page.evaluate((url) => Promise.all([window.app.get(url), window.app.get(url)]), `${upstream.origin}/stages/together`)
    expect(upstream.hits.get('/stages/together')).toBe(1)
    const body = JSON.stringify({ path: '/stages/together', hit: 1 })
    expect(both.map(({ status, body }) => ({ status, body }))).toEqual([{ status: 200, body }, { status: 200, body }])
    // resilienceInfo says which call shared the other's request.
    expect(both.map(({ info }) => info!.coalesced).sort()).toEqual([false, true])
    expect(await ask(page, 'warnings')).toEqual([])
  })
})

describe('in a module Service Worker that loads the main entry code-split (chunks) unbundled', () => {
  it("import() is refused: each storeerror names the fix, the Service Worker entry; hedging and coalescing are off and the console says so; calls still work", async () => {
    const { page } = await controlledPage(SPLIT[1], SPLIT[2])
    expect(await get(page, '/api/items')).toMatchObject({ status: 200, source: null })
    await setUpstream('down')
    const answer = await get(page, '/api/items')
    expect(answer).toMatchObject({ status: 504, source: null })
    expect(JSON.parse(answer.body)).toMatchObject({ name: 'TypeError' })
    expect(await stored(page)).toEqual([])
    const events = (await ask(page, 'events')) as string[]
    expect(events.length).toBeGreaterThanOrEqual(2)
    for (const event of events) expect(event).toBe(`storeerror ${FIX}`)

    // The stages whose chunks would not load are off, each said once when the instance was made; the calls go on without them.
    expect(await ask(page, 'warnings')).toEqual([`resilient-fetch: coalesce is off: ${FIX}`, `resilient-fetch: hedge is off: ${FIX}`])
    await setUpstream('up')
    const both = await page.evaluate((url) => Promise.all([window.app.get(url), window.app.get(url)]), `${upstream.origin}/stages/together`)
    expect(both).toMatchObject([{ status: 200, info: { coalesced: false } }, { status: 200, info: { coalesced: false } }])
    expect(upstream.hits.get('/stages/together')).toBe(2)
  })
})
