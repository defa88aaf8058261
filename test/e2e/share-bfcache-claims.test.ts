/**
 * A probe claim (no Web Locks) released while the page that heard it was in the back/forward cache, in real headless
 * Chromium: the release never reaches the page kept for Back, which must not refuse its probe for the rest of the
 * claim's ttl once restored. The pages are the share-tabs test's, with locks=off; they are served without no-store
 * (which keeps a page out of the cache), and Chromium's headless shell caches pages only with --enable-bfcache.
 */
import { readFile, rm } from 'node:fs/promises'
import { createServer, type Server } from 'node:http'
import { join } from 'node:path'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { bundlePage, closeServer, launchWithBackForwardCache, listen } from './harness.js'

const PAGE_DIR = join(import.meta.dirname, 'share-page')
const KEY = 'https://held.test'
/** Longer than the test: a claim the restored page kept would still refuse it. */
const CLAIM_TTL = 60_000

let dir: string
let server: Server
let origin: string
let browser: Browser
const contexts: BrowserContext[] = []

beforeAll(async () => {
  dir = await bundlePage(PAGE_DIR, 'rf-share-bfcache-')
  server = createServer(async (req, res) => {
    const file = new URL(req.url ?? '/', 'http://127.0.0.1').pathname === '/page.js' ? 'page.js' : 'index.html'
    res.writeHead(200, { 'content-type': file === 'page.js' ? 'text/javascript' : 'text/html' })
    res.end(await readFile(join(dir, file)))
  })
  origin = `http://127.0.0.1:${await listen(server)}`
  browser = await launchWithBackForwardCache()
})

afterEach(async () => {
  await Promise.all(contexts.splice(0).map((context) => context.close()))
})

afterAll(async () => {
  await browser?.close()
  if (server) await closeServer(server)
  if (dir) await rm(dir, { recursive: true, force: true })
})

async function load(page: Page, url: string): Promise<void> {
  await page.goto(url)
  await page.waitForFunction(() => document.documentElement.dataset.ready === 'true')
}

/** Whether `page` wins the probe of KEY now, held up to CLAIM_TTL (a claim settles in 100 ms). */
async function claim(page: Page): Promise<boolean> {
  const before = await page.evaluate(() => window.tab.claims.length)
  await page.evaluate(([key, ttl]) => window.tab.claimAt(key, 0, ttl), [KEY, CLAIM_TTL] as const)
  await page.waitForFunction((n) => window.tab.claims.length > n, before, { polling: 10, timeout: 5_000 })
  return page.evaluate(() => window.tab.claims.at(-1)!.won)
}

describe('a page restored from the back/forward cache in Chromium, without Web Locks', () => {
  it('drops the claim it heard from a tab that released it while the page was away: restored, it probes at once', async () => {
    const context = await browser.newContext()
    contexts.push(context)
    const [away, holder] = [await context.newPage(), await context.newPage()]
    const errors: string[] = []
    for (const page of [away, holder]) page.on('pageerror', (error) => errors.push(`pageerror: ${error.message}`))
    const notRestored: unknown[] = []
    const cdp = await context.newCDPSession(away)
    cdp.on('Page.backForwardCacheNotUsed', (event) => notRestored.push(event.notRestoredExplanations.map((e) => `${e.type}: ${e.reason}`)))
    await cdp.send('Page.enable')
    await Promise.all([load(away, `${origin}/?locks=off`), load(holder, `${origin}/?locks=off`)])

    expect(await claim(holder)).toBe(true)
    // The claim settled 100 ms after it was sent on the channel: the page has heard it, and refuses.
    expect(await claim(away)).toBe(false)

    // Away to another page of the app; the holder leaves too, which releases its claim on a channel the page has left.
    await load(away, `${origin}/?locks=off&other`)
    await holder.goto('about:blank')
    await expect.poll(() => away.evaluate((key) => localStorage.getItem(`resilient-fetch:probe:${key}`), KEY), { interval: 20, timeout: 5_000 }).toBeNull()
    await away.goBack({ waitUntil: 'commit' })
    // Restored, not reloaded: the claim it lost before it left is still recorded.
    await away.waitForFunction(() => window.tab?.claims.length === 1 && document.visibilityState === 'visible', undefined, { polling: 10, timeout: 5_000 })
    expect(notRestored).toEqual([])

    expect(await claim(away)).toBe(true)
    expect(errors).toEqual([])
  })
})
