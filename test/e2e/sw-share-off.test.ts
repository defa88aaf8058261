/**
 * README "In a Service Worker": with the main entry still loading chunks there, "a hedge, throttle or coalesce option
 * that could not load is off (calls go on without it), which the console says once per instance (`resilient-fetch:
 * hedge is off: …`); so is the breaker's side of a `BreakerShare` of your own (`resilient-fetch: share is off: …`),
 * which the Service Worker entry brings." Headless Chromium, the module Service Worker of test/e2e/sw-share (a share of
 * its own that records connect and publish; one failure opens the breaker) against an upstream on another origin
 * (127.0.0.1), built code-split on the Service Worker entry and on the main entry: the first connects the share and
 * publishes the breaker's opening to it, saying nothing; the second never connects it, says once that the share is off,
 * and its breaker works on its own (opened by the failure, it refuses the next call without a request).
 */
import { rm } from 'node:fs/promises'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { join } from 'node:path'
import { build, type BuildOptions } from 'esbuild'
import type { Browser, Page } from 'playwright-core'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { bundlePage, closeServer, launchChromium, listen, serveDirectory, type StaticServer } from './harness.js'
import { controlledPage as openControlled, mainEntry } from './sw-harness.js'

const PAGE_DIR = join(import.meta.dirname, 'sw-page')
const WORKER = join(import.meta.dirname, 'sw-share/sw.ts')
const FIX = "TypeError: Service Workers refuse import(): use 'resilient-fetch/service-worker'"

let dir: string
let site: StaticServer
let browser: Browser
const opened: { close(): Promise<void> }[] = []

/** The upstream: 503 while failing, else 200; counts what reached it. */
const upstream = { failing: false, hits: 0, origin: '' }
function answer(_req: IncomingMessage, res: ServerResponse): void {
  upstream.hits++
  const cors = { 'access-control-allow-origin': '*', 'content-type': 'text/plain' }
  if (upstream.failing) return void res.writeHead(503, cors).end('down')
  res.writeHead(200, cors).end('up')
}
const api = createServer(answer)

beforeAll(async () => {
  dir = await bundlePage(PAGE_DIR, 'rf-sw-share-')
  const split: BuildOptions = { entryPoints: [WORKER], bundle: true, platform: 'browser', target: 'chrome120', logLevel: 'error', format: 'esm', splitting: true, outdir: dir }
  await build({ ...split, entryNames: 'sw-entry', chunkNames: 'entry-chunk-[hash]' })
  await build({ ...split, plugins: [mainEntry], entryNames: 'sw-main', chunkNames: 'main-chunk-[hash]' })
  site = await serveDirectory(dir)
  upstream.origin = `http://127.0.0.1:${await listen(api)}`
  browser = await launchChromium()
})

afterEach(async () => {
  await Promise.all(opened.splice(0).map((context) => context.close()))
  upstream.failing = false
  upstream.hits = 0
})

afterAll(async () => {
  await browser?.close()
  await site?.close()
  if (api.listening) await closeServer(api)
  if (dir) await rm(dir, { recursive: true, force: true })
})

interface State {
  warnings: string[]
  connected: number
  published: string[]
}
const get = (page: Page, path: string) => page.evaluate((url) => window.app.get(url), upstream.origin + path)
const state = (page: Page) => page.evaluate(() => window.app.ask('state')) as Promise<State>

/** A good call, a 503 (which opens the breaker), then a call the open breaker refuses without a request. */
async function openTheBreaker(page: Page): Promise<void> {
  expect(await get(page, '/share/a')).toMatchObject({ status: 200, body: 'up' })
  upstream.failing = true
  expect(await get(page, '/share/a')).toMatchObject({ status: 503, body: 'down' })
  upstream.failing = false
  const refused = await get(page, '/share/a')
  expect(refused).toMatchObject({ status: 504 })
  expect(JSON.parse(refused.body)).toMatchObject({ name: 'CircuitOpenError' })
  expect(upstream.hits).toBe(2)
}

describe("a BreakerShare of one's own in a module Service Worker", () => {
  it('on the code-split Service Worker entry: the share is connected and told of the opening; nothing is off', async () => {
    const { page } = await openControlled(browser, opened, site.url, 'sw-entry.js', 'module')
    await openTheBreaker(page)
    expect(await state(page)).toEqual({ warnings: [], connected: 1, published: [`${upstream.origin} open`] })
  })

  it("on the main entry code-split (import() refused): the share is off, said once on the console; the breaker works on its own", async () => {
    const { page } = await openControlled(browser, opened, site.url, 'sw-main.js', 'module')
    await openTheBreaker(page)
    await expect.poll(async () => (await state(page)).warnings, { timeout: 2_000 }).toEqual([`resilient-fetch: share is off: ${FIX}`])
    expect(await get(page, '/share/a')).toMatchObject({ status: 504 })
    expect(await state(page)).toEqual({ warnings: [`resilient-fetch: share is off: ${FIX}`], connected: 0, published: [] })
  })
})
