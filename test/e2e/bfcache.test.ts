/**
 * The back/forward cache in real headless Chromium: a page of an app that uses resilient-fetch goes to another page
 * of the app and comes Back, and must be restored from the cache (its pageshow `persisted`, no report of the page
 * not being cached), then work as before. Chromium's headless shell caches pages only with --enable-bfcache, and
 * Playwright turns the cache off unless its --disable-back-forward-cache is left out.
 */
import { readFile, rm } from 'node:fs/promises'
import { createServer, type Server } from 'node:http'
import { join } from 'node:path'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { bundlePage, closeServer, launchWithBackForwardCache, listen } from './harness.js'

const PAGE_DIR = join(import.meta.dirname, 'bfcache-page')

let dir: string
let server: Server
let origin: string
let browser: Browser
const contexts: BrowserContext[] = []
/** What /api/ok answers (a test flips it to take the API down), and how many times it was asked. */
let apiUp = true
let apiHits = 0

beforeAll(async () => {
  dir = await bundlePage(PAGE_DIR, 'rf-bfcache-')
  server = createServer(async (req, res) => {
    const path = new URL(req.url ?? '/', 'http://127.0.0.1').pathname
    if (path === '/api/ok') {
      apiHits++
      if (!apiUp) return void res.writeHead(503, { 'content-type': 'text/plain' }).end('down')
      return void res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}')
    }
    if (path === '/api/fail') return void res.writeHead(500, { 'content-type': 'text/plain' }).end('down')
    const file = path === '/' || path === '/other' ? 'index.html' : path.slice(1)
    if (file !== 'index.html' && file !== 'page.js') return void res.writeHead(404).end()
    res.writeHead(200, { 'content-type': file.endsWith('.js') ? 'text/javascript' : 'text/html' })
    res.end(await readFile(join(dir, file)))
  })
  origin = `http://127.0.0.1:${await listen(server)}`
  browser = await launchWithBackForwardCache()
})

afterEach(async () => {
  await Promise.all(contexts.splice(0).map((context) => context.close()))
  apiUp = true
  apiHits = 0
})

afterAll(async () => {
  await browser?.close()
  if (server) await closeServer(server)
  if (dir) await rm(dir, { recursive: true, force: true })
})

interface Tab {
  page: Page
  errors: string[]
  /** Chromium's reasons, each time it did not restore this tab's page from the cache. */
  notRestored: unknown[]
}

async function newTab(context: BrowserContext): Promise<Tab> {
  const page = await context.newPage()
  const errors: string[] = []
  page.on('pageerror', (error) => errors.push(`pageerror: ${error.message}`))
  const notRestored: unknown[] = []
  const cdp = await context.newCDPSession(page)
  cdp.on('Page.backForwardCacheNotUsed', (event) => notRestored.push(event.notRestoredExplanations.map((e) => `${e.type}: ${e.reason}`)))
  await cdp.send('Page.enable')
  return { page, errors, notRestored }
}

async function load(page: Page, url: string): Promise<void> {
  await page.goto(url)
  await page.waitForFunction(() => document.documentElement.dataset.ready === 'true')
}

/** Leaves for another page of the app (with the same instance on it), then comes Back. */
async function awayAndBack(tab: Tab, query: string): Promise<void> {
  await load(tab.page, `${origin}/other${query}`)
  // A page restored from the cache has no load event: Back is done when the page shows again.
  await tab.page.goBack({ waitUntil: 'commit' })
  await tab.page.waitForFunction(() => window.bfcache?.shows.length >= 1 && document.visibilityState === 'visible', undefined, { timeout: 5_000 })
}

/** A fresh context (its own storage, channels and locks) with the app's page loaded in a tab. */
async function appTab(query: string): Promise<{ context: BrowserContext; tab: Tab }> {
  const context = await browser.newContext()
  contexts.push(context)
  const tab = await newTab(context)
  await load(tab.page, `${origin}/${query}`)
  return { context, tab }
}

/** Restored from the cache: shown twice in one document's life, the second time persisted, and no report against it. */
/** Opens the breaker from `tab`: three failures (the share's threshold) from the API. */
async function openBreaker(tab: Tab): Promise<void> {
  expect(await tab.page.evaluate(async () => [await window.bfcache.call('/api/fail'), await window.bfcache.call('/api/fail'), await window.bfcache.call('/api/fail')])).toEqual([500, 500, 500])
}

/** A call from `tab` is refused by its open breaker without reaching the API (a URL with no stored copy: the refusal itself, not the fallback's answer to it). */
async function expectRefusedAtOnce(tab: Tab): Promise<void> {
  const hits = apiHits
  expect(await tab.page.evaluate(() => window.bfcache.call('/api/ok?new'))).toBe('CircuitOpenError')
  expect(apiHits).toBe(hits)
}

async function expectRestored(tab: Tab): Promise<void> {
  expect(tab.notRestored).toEqual([])
  expect(await tab.page.evaluate(() => window.bfcache.shows)).toEqual([false, true])
}

describe.each([
  ['the default options (copies in the Cache API)', '', 'caches'],
  ['an idbStore fallback (an IndexedDB connection held open)', '?store=idb', 'databases'],
] as const)('the back/forward cache with %s', (_, query, where) => {
  it('restores the page after calls that stored copies; after it, a call goes through and a copy answers an outage', async () => {
    const { tab } = await appTab(query)
    expect(await tab.page.evaluate(async () => [await window.bfcache.call('/api/ok'), await window.bfcache.call('/api/ok?b')])).toEqual([200, 200])
    // The copies are where the options put them when the page leaves.
    await expect.poll(async () => (await tab.page.evaluate(() => window.bfcache.storage()))[where].length, { interval: 20, timeout: 5_000 }).toBe(1)
    await awayAndBack(tab, query)
    await expectRestored(tab)
    expect(await tab.page.evaluate(() => window.bfcache.call('/api/ok?c'))).toBe(200)
    apiUp = false
    // The server answers 503 now: only a copy stored before the page left answers 200.
    expect(await tab.page.evaluate(() => window.bfcache.call('/api/ok'))).toBe(200)
    expect(apiHits).toBe(4)
    expect(tab.errors).toEqual([])
  })

  it('restores the page after a clear(); after it, a call goes through and no copy is left', async () => {
    const { tab } = await appTab(query)
    expect(await tab.page.evaluate(() => window.bfcache.call('/api/ok'))).toBe(200)
    await tab.page.evaluate(() => window.bfcache.clear())
    await awayAndBack(tab, query)
    await expectRestored(tab)
    expect(await tab.page.evaluate(() => window.bfcache.call('/api/ok?b'))).toBe(200)
    apiUp = false
    expect(await tab.page.evaluate(() => window.bfcache.call('/api/ok'))).toBe(503)
    expect(tab.errors).toEqual([])
  })
})

describe('the back/forward cache with shareAcrossTabs', () => {
  const query = '?share=on'

  it('restores the page though the page it went to joined the share; a breaker opened in another tab after reaches it', async () => {
    const { context, tab } = await appTab(query)
    expect(await tab.page.evaluate(() => window.bfcache.call('/api/ok'))).toBe(200)
    await awayAndBack(tab, query)
    await expectRestored(tab)
    expect(await tab.page.evaluate(() => window.bfcache.call('/api/ok'))).toBe(200)

    const other = await newTab(context)
    await load(other.page, `${origin}/${query}`)
    await openBreaker(other)
    await tab.page.waitForFunction(() => window.bfcache.state() === 'open', undefined, { polling: 10, timeout: 2_000 })
    await expectRefusedAtOnce(tab)
    expect([...tab.errors, ...other.errors]).toEqual([])
  })

  it('restores the page while another tab opened a breaker and went away meanwhile; back, the page has it open', async () => {
    const { context, tab } = await appTab(query)
    expect(await tab.page.evaluate(() => window.bfcache.call('/api/ok'))).toBe(200)
    await load(tab.page, `${origin}/other${query}`)
    const other = await newTab(context)
    await load(other.page, `${origin}/${query}`)
    await openBreaker(other)
    await other.page.close()
    await tab.page.goBack({ waitUntil: 'commit' })
    await tab.page.waitForFunction(() => window.bfcache?.shows.length >= 1 && document.visibilityState === 'visible', undefined, { timeout: 5_000 })
    await expectRestored(tab)
    // Only storage can tell it now: the tab that opened the breaker is gone.
    await tab.page.waitForFunction(() => window.bfcache.state() === 'open', undefined, { polling: 10, timeout: 2_000 })
    await expectRefusedAtOnce(tab)
    expect([...tab.errors, ...other.errors]).toEqual([])
  })

  it('restores the page while a live tab forced the breaker open meanwhile; back, the page asks and has it forced open', async () => {
    const { context, tab } = await appTab(query)
    expect(await tab.page.evaluate(() => window.bfcache.call('/api/ok'))).toBe(200)
    await load(tab.page, `${origin}/other${query}`)
    const other = await newTab(context)
    await load(other.page, `${origin}/${query}`)
    expect(await other.page.evaluate(() => window.bfcache.call('/api/ok'))).toBe(200)
    await other.page.evaluate(() => window.bfcache.forceOpen())
    await tab.page.goBack({ waitUntil: 'commit' })
    await tab.page.waitForFunction(() => window.bfcache?.shows.length >= 1 && document.visibilityState === 'visible', undefined, { timeout: 5_000 })
    await expectRestored(tab)
    // Only the live tab can tell it: a forced open with no end is not kept in storage.
    await tab.page.waitForFunction(() => window.bfcache.state() === 'forced-open', undefined, { polling: 10, timeout: 2_000 })
    expect([...tab.errors, ...other.errors]).toEqual([])
  })
})

describe('the back/forward cache and a clear() in another page of the origin', () => {
  it('a clear() elsewhere (a logout) evicts the page: Back loads it afresh, not as it was before the clear', async () => {
    const { tab } = await appTab('')
    expect(await tab.page.evaluate(() => window.bfcache.call('/api/ok'))).toBe(200)
    await load(tab.page, `${origin}/other`)
    await tab.page.evaluate(() => window.bfcache.clear())
    await tab.page.goBack()
    await tab.page.waitForFunction(() => window.bfcache?.shows.length >= 1)
    expect(tab.notRestored).toEqual([['Circumstantial: BroadcastChannelOnMessage']])
    expect(await tab.page.evaluate(() => window.bfcache.shows)).toEqual([false])
    expect(tab.errors).toEqual([])
  })
})
