/**
 * The fallback stores in real headless Chromium: real IndexedDB and a real Cache API (127.0.0.1 is a secure
 * context), including a page reload that finds the stored copy.
 */
import { readFile, rm } from 'node:fs/promises'
import { createServer, type Server } from 'node:http'
import { join } from 'node:path'
import type { Browser, Page } from 'playwright-core'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { bundlePage, closeServer, launchChromium, listen, openPage } from './harness.js'

const PAGE_DIR = join(import.meta.dirname, 'stores-page')

let dir: string
let server: Server
let origin: string
let browser: Browser
/** What /api/items answers; a test flips it to simulate the API going down. */
let apiUp = true
let apiHits = 0
/** Ends of the responses /api/held-* hold back until the test lets them go. */
const held: (() => void)[] = []
const opened: { close(): Promise<void> }[] = []

beforeAll(async () => {
  dir = await bundlePage(PAGE_DIR, 'rf-stores-')
  // The page and a small JSON API on one origin, so the page fetches what it stores.
  server = createServer(async (req, res) => {
    const path = new URL(req.url ?? '/', 'http://127.0.0.1').pathname
    // A response that waits for its headers, or whose body has begun and waits for its end.
    if (path === '/api/held-headers' || path === '/api/held-body') {
      if (!apiUp) return void res.writeHead(503, { 'content-type': 'text/plain' }).end('down')
      const json = { 'content-type': 'application/json' }
      if (path === '/api/held-headers') return void held.push(() => res.writeHead(200, json).end('{"user":"old"}'))
      res.writeHead(200, json).write('{"user":')
      return void held.push(() => res.end('"old"}'))
    }
    if (path === '/api/items') {
      apiHits++
      if (!apiUp) return void res.writeHead(503, { 'content-type': 'text/plain' }).end('down')
      return void res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-cache', vary: 'Accept' }).end(JSON.stringify({ items: [1, 2, 3], hit: apiHits }))
    }
    const file = path === '/' ? 'index.html' : path.slice(1)
    if (file !== 'index.html' && file !== 'page.js') return void res.writeHead(404).end()
    res.writeHead(200, { 'content-type': file.endsWith('.js') ? 'text/javascript' : 'text/html', 'cache-control': 'no-store' })
    res.end(await readFile(join(dir, file)))
  })
  origin = `http://127.0.0.1:${await listen(server)}`
  browser = await launchChromium()
})

afterEach(async () => {
  for (const end of held.splice(0)) end()
  await Promise.all(opened.splice(0).map((context) => context.close()))
  apiUp = true
})

afterAll(async () => {
  await browser?.close()
  if (server) await closeServer(server)
  if (dir) await rm(dir, { recursive: true, force: true })
})

/** A fresh browser context (its own IndexedDB and Cache Storage) with the page loaded. */
async function freshPage(): Promise<{ page: Page; errors: string[] }> {
  const { context, page, errors } = await openPage(browser)
  opened.push(context)
  await load(page)
  return { page, errors }
}

async function load(page: Page, reload = false): Promise<void> {
  if (reload) await page.reload()
  else await page.goto(origin + '/')
  await page.waitForFunction(() => document.documentElement.dataset.ready === 'true')
}

describe.each(['idb', 'cache'] as const)('%sStore in Chromium', (kind) => {
  it('puts and gets an entry, body and headers intact', async () => {
    const { page, errors } = await freshPage()
    const result = await page.evaluate(async (kind) => {
      const store = kind === 'idb' ? window.rf.idbStore({ dbName: 'e2e' }) : window.rf.cacheStore({ cacheName: 'e2e' })
      await store.put('GET /x', window.rf.entry('hello', 1234))
      const back = await store.get('GET /x')
      return back && { body: window.rf.text(back.body), headers: back.headers, storedAt: back.storedAt, isBuffer: back.body instanceof ArrayBuffer, missing: await store.get('GET /y') }
    }, kind)
    expect(result).toEqual({ body: 'hello', headers: [['content-type', 'text/plain']], storedAt: 1234, isBuffer: true, missing: undefined })
    expect(errors).toEqual([])
  })

  it('keeps at most maxEntries, deleting the least recently used from real storage', async () => {
    const { page } = await freshPage()
    const left = await page.evaluate(async (kind) => {
      const store = kind === 'idb' ? window.rf.idbStore({ dbName: 'lru', maxEntries: 2 }) : window.rf.cacheStore({ cacheName: 'lru', maxEntries: 2 })
      await store.put('a', window.rf.entry('a'))
      await store.put('b', window.rf.entry('b'))
      await store.get('a')
      await store.put('c', window.rf.entry('c'))
      const onDisk = kind === 'idb' ? await window.rf.idbKeys('lru') : (await window.rf.cacheKeys('lru')).map((url) => decodeURIComponent(url.split('/').pop()!))
      return onDisk.sort()
    }, kind)
    expect(left).toEqual(['a', 'c'])
  })

  it('a fetched response is remembered, and after a reload served as the fallback when the API is down', async () => {
    const { page, errors } = await freshPage()
    const live = await page.evaluate(async (kind) => {
      const store = kind === 'idb' ? window.rf.idbStore({ dbName: 'reload' }) : window.rf.cacheStore({ cacheName: 'reload' })
      const fallback = window.rf.createFallback({ store, maxAge: 60_000, maxBodyBytes: 1_000_000, private: false }, () => {})
      const request = new Request('/api/items', { headers: { accept: 'application/json' } })
      const response = await fetch(request)
      const stored: Promise<unknown>[] = []
      fallback.remember(request, response, (p) => stored.push(p))
      const body = await response.json()
      await Promise.all(stored)
      return body
    }, kind)
    expect(live).toMatchObject({ items: [1, 2, 3] })

    apiUp = false
    await load(page, true)
    const served = await page.evaluate(async (kind) => {
      const store = kind === 'idb' ? window.rf.idbStore({ dbName: 'reload' }) : window.rf.cacheStore({ cacheName: 'reload' })
      const errors: unknown[] = []
      const fallback = window.rf.createFallback({ store, maxAge: 60_000, maxBodyBytes: 1_000_000, private: false }, (_t, d) => errors.push(d))
      const request = new Request('/api/items', { headers: { accept: 'application/json' } })
      const status = (await fetch(request)).status
      const found = await fallback.recall(request)
      const otherAccept = await fallback.recall(new Request('/api/items', { headers: { accept: 'text/html' } }))
      return {
        status,
        body: await found?.response.json(),
        source: found?.response.headers.get('x-resilient-source'),
        vary: found?.response.headers.get('vary'),
        age: Number(found?.response.headers.get('age')),
        otherAccept,
        errors: errors.length,
      }
    }, kind)
    expect(served).toMatchObject({ status: 503, body: live, source: 'fallback', vary: 'Accept', otherAccept: undefined, errors: 0 })
    expect(served.age).toBeGreaterThanOrEqual(0)
    // The 503 is the point of the test; Chromium logs it, nothing else may be logged.
    expect(errors.filter((error) => !error.includes('status of 503'))).toEqual([])
  })

  it('a personal copy stored from a request without credentials, after a reload, answers a request without any and never one with Authorization', async () => {
    const { page } = await freshPage()
    await page.evaluate(async (kind) => {
      const store = kind === 'idb' ? window.rf.idbStore({ dbName: 'personal' }) : window.rf.cacheStore({ cacheName: 'personal' })
      const fallback = window.rf.createFallback({ store, maxAge: 60_000, maxBodyBytes: 1_000, private: true }, () => {})
      const stored: Promise<unknown>[] = []
      fallback.remember(new Request('/api/me'), new Response('mine', { headers: { 'cache-control': 'private' } }), (p) => stored.push(p))
      await Promise.all(stored)
    }, kind)
    await load(page, true)
    const served = await page.evaluate(async (kind) => {
      const store = kind === 'idb' ? window.rf.idbStore({ dbName: 'personal' }) : window.rf.cacheStore({ cacheName: 'personal' })
      const fallback = window.rf.createFallback({ store, maxAge: 60_000, maxBodyBytes: 1_000, private: true }, () => {})
      const recall = async (headers: HeadersInit) => (await (await fallback.recall(new Request('/api/me', { headers })))?.response.text()) ?? null
      return { none: await recall({}), authorization: await recall({ authorization: 'Bearer someone' }), apiKey: await recall({ 'x-api-key': 'k' }) }
    }, kind)
    expect(served).toEqual({ none: 'mine', authorization: null, apiKey: null })
  })

  it('clear() empties real storage, across a reload', async () => {
    const { page } = await freshPage()
    await page.evaluate(async (kind) => {
      const store = kind === 'idb' ? window.rf.idbStore({ dbName: 'clear' }) : window.rf.cacheStore({ cacheName: 'clear' })
      await store.put('k', window.rf.entry('secret'))
      await store.clear()
    }, kind)
    await load(page, true)
    const after = await page.evaluate(async (kind) => {
      const store = kind === 'idb' ? window.rf.idbStore({ dbName: 'clear' }) : window.rf.cacheStore({ cacheName: 'clear' })
      return store.get('k')
    }, kind)
    expect(after).toBeUndefined()
  })
})

describe('under a real storage quota (1 MB, set through the DevTools protocol)', () => {
  /** Remembers twelve 200 KB responses one after another; says which are recallable right after, and what was reported. */
  async function fillPast(kind: 'idb' | 'cache') {
    const { context, page } = await openPage(browser)
    opened.push(context)
    await load(page)
    const cdp = await context.newCDPSession(page)
    await cdp.send('Storage.overrideQuotaForOrigin', { origin, quotaSize: 1024 * 1024 })
    return page.evaluate(async (kind) => {
      const store = kind === 'idb' ? window.rf.idbStore({ dbName: 'quota' }) : window.rf.cacheStore({ cacheName: 'quota' })
      const errors: string[] = []
      const fallback = window.rf.createFallback({ store, maxAge: 60_000, maxBodyBytes: 1_000_000, private: false }, (_type, detail) =>
        errors.push((detail.error as Error).name),
      )
      const stored: boolean[] = []
      for (let i = 0; i < 12; i++) {
        // Random bytes, so no layer can compress them below the quota.
        const body = new Uint8Array(200 * 1024)
        for (let at = 0; at < body.length; at += 65_536) crypto.getRandomValues(body.subarray(at, at + 65_536))
        const request = { url: `${location.origin}/big/${i}`, headers: new Headers() }
        const waits: Promise<unknown>[] = []
        fallback.remember(request, new Response(body), (p) => waits.push(p))
        await Promise.all(waits)
        stored.push((await fallback.recall(request)) !== undefined)
      }
      return { stored, errors }
    }, kind)
  }

  it('cacheStore: a put over quota evicts the least recently used half and the retry lands; nothing is reported', async () => {
    const { stored, errors } = await fillPast('cache')
    expect(stored).toEqual(Array(12).fill(true))
    expect(errors).toEqual([])
  })

  it('idbStore: quota errors never fail the call; what cannot be stored is reported as QuotaExceededError', async () => {
    // Chromium frees IndexedDB space lazily (compaction), so after eviction some retries still fail: reported, never thrown.
    const { stored, errors } = await fillPast('idb')
    expect(stored.slice(0, 4)).toEqual([true, true, true, true])
    expect(stored.filter((ok) => !ok).length).toBeLessThanOrEqual(errors.length)
    expect(new Set(errors)).toEqual(errors.length === 0 ? new Set() : new Set(['QuotaExceededError']))
  })
})

describe("store: 'auto' in Chromium", () => {
  it('picks the Cache API on a secure origin and finds the copy after a reload', async () => {
    const { page } = await freshPage()
    await page.evaluate(async () => {
      const fallback = window.rf.createFallback({ store: 'auto', maxAge: 60_000, maxBodyBytes: 1_000_000, private: false }, () => {})
      const request = new Request('/api/items')
      const stored: Promise<unknown>[] = []
      fallback.remember(request, await fetch(request), (p) => stored.push(p))
      await Promise.all(stored)
    })
    await load(page, true)
    const result = await page.evaluate(async () => {
      const fallback = window.rf.createFallback({ store: 'auto', maxAge: 60_000, maxBodyBytes: 1_000_000, private: false }, () => {})
      const found = await fallback.recall(new Request('/api/items'))
      return { found: found !== undefined, cacheKeys: await window.rf.cacheKeys('resilient-fetch') }
    })
    expect(result.found).toBe(true)
    expect(result.cacheKeys).toEqual([`https://resilient-fetch.invalid/${encodeURIComponent(`GET ${origin}/api/items`)}`])
  })
})

describe("store: 'auto' shared by the tabs of an origin", () => {
  it('rf.clear() in one tab (a logout) keeps the copies in flight in another from landing: after a reload with the API down, none is served', async () => {
    const { context, page: a } = await openPage(browser)
    opened.push(context)
    const b = await context.newPage()
    await Promise.all([load(a), load(b)])
    // Tab A: one call whose body is still arriving (its copy is being read), one still waiting for its headers.
    await a.evaluate(async () => {
      const app = window.rf.app
      // Where the test sees the clear reach this tab: the channel the instances hear it on.
      new BroadcastChannel('resilient-fetch:clear').onmessage = () => (app.cleared = true)
      app.rf = window.rf.createResilientFetch({ retry: false })
      const reading = await app.rf('/api/held-body')
      app.bodies = [reading.text(), app.rf('/api/held-headers').then((response) => response.text())]
    })
    await expect.poll(() => held.length).toBe(2)
    // Tab B logs out.
    await b.evaluate(() => window.rf.createResilientFetch().clear())
    // Heard in tab A within a second (a bound, so that a tab that never hears it fails below, on what it stored).
    await a.waitForFunction(() => window.rf.app.cleared === true, undefined, { timeout: 1_000 }).catch(() => {})
    for (const end of held.splice(0)) end()
    const afterClear = await a.evaluate(async () => {
      const app = window.rf.app
      const bodies = await Promise.all(app.bodies!)
      // A call after the clear is kept: once its copy is in the cache, the two before it would have landed too.
      await (await app.rf!('/api/items')).text()
      const keys = async () => (await window.rf.cacheKeys('resilient-fetch')).map((url) => decodeURIComponent(url).split(location.origin)[1])
      while ((await keys()).length === 0) await new Promise((resolve) => setTimeout(resolve, 20))
      return { bodies, keys: await keys() }
    })
    expect(afterClear).toEqual({ bodies: ['{"user":"old"}', '{"user":"old"}'], keys: ['/api/items'] })

    apiUp = false
    await load(b, true)
    const served = await b.evaluate(async () => {
      const rf = window.rf.createResilientFetch({ retry: false })
      const answers = await Promise.all(['/api/held-body', '/api/held-headers', '/api/items'].map((url) => rf(url)))
      return answers.map((response) => `${response.status} ${response.headers.get('x-resilient-source')}`)
    })
    expect(served).toEqual(['503 null', '503 null', '200 fallback'])
  })
})

describe('cacheStore beside the rest of the page in Chromium', () => {
  it('after the app deletes its cache (caches.delete on logout) serves nothing the cache held, and keeps copies where a reload finds them', async () => {
    const { page, errors } = await freshPage()
    const result = await page.evaluate(async () => {
      const store = window.rf.cacheStore({ cacheName: 'e2e-deleted' })
      await store.put('GET /a', window.rf.entry('before'))
      const found = await store.get('GET /a')
      await caches.delete('e2e-deleted')
      const gone = await store.get('GET /a')
      await store.put('GET /b', window.rf.entry('after'))
      const back = await store.get('GET /b')
      return { found: found !== undefined, gone: gone === undefined, after: back && window.rf.text(back.body), keys: await window.rf.cacheKeys('e2e-deleted') }
    })
    expect(result).toEqual({ found: true, gone: true, after: 'after', keys: [`https://resilient-fetch.invalid/${encodeURIComponent('GET /b')}`] })
    expect(errors).toEqual([])
  })
})

describe('idbStore beside the rest of the page in Chromium', () => {
  it("gives way to the app's deleteDatabase (a logout that wipes storage) instead of blocking it while the page lives, and stores again after", async () => {
    const { page, errors } = await freshPage()
    const result = await page.evaluate(async () => {
      const store = window.rf.idbStore({ dbName: 'e2e-wipe' })
      await store.put('GET /a', window.rf.entry('before'))
      const deleted = await new Promise<string>((resolve) => {
        const request = indexedDB.deleteDatabase('e2e-wipe')
        request.onsuccess = () => resolve('deleted')
        request.onerror = () => resolve('error')
        setTimeout(() => resolve('still blocked after 2 s'), 2_000)
      })
      const gone = await store.get('GET /a')
      await store.put('GET /b', window.rf.entry('after'))
      const back = await store.get('GET /b')
      return { deleted, gone: gone === undefined, after: back && window.rf.text(back.body) }
    })
    expect(result).toEqual({ deleted: 'deleted', gone: true, after: 'after' })
    expect(errors).toEqual([])
  })
})

describe('damaged IndexedDB entries in Chromium', () => {
  it.each([
    ['a 204 with a body', { status: 204 }],
    ['a bad header name', { headers: [['bad header', 'x']] }],
    ['a malformed Vary record', { headers: [['x-resilient-vary', '%E0%A4%A']] }],
  ])('an entry of the right shape that cannot become a Response (%s) is deleted when found, reported once', async (_name, damage) => {
    const { page, errors } = await freshPage()
    const result = await page.evaluate(async (damage) => {
      const key = `GET ${location.origin}/damaged`
      await window.rf.idbSet('e2e-damaged', key, { ...window.rf.entry('body'), ...damage })
      const reported: string[] = []
      const fallback = window.rf.createFallback({ store: window.rf.idbStore({ dbName: 'e2e-damaged' }), maxAge: 60_000, maxBodyBytes: 1_000, private: false }, (_type, detail) =>
        reported.push(String((detail.error as Error).message)),
      )
      const request = { url: `${location.origin}/damaged`, headers: new Headers() }
      const first = await fallback.recall(request)
      const second = await fallback.recall(request)
      return { first: first === undefined, second: second === undefined, reported, left: await window.rf.idbKeys('e2e-damaged') }
    }, damage)
    expect(result).toEqual({ first: true, second: true, reported: [expect.stringContaining('corrupt entry')], left: [] })
    expect(errors).toEqual([])
  })
})
