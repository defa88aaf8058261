/**
 * README "In a Service Worker": "Breaker state lives in the worker's memory and starts closed when the browser starts it
 * again. Tested in headless Chromium, in classic and module workers, against an upstream on another origin." The
 * Service Worker of test/e2e/sw-page (its instance: breaker failureThreshold 3, openDuration 60 s, no retry) opens its
 * breaker on three 503s from the upstream (127.0.0.1, another origin); the open breaker refuses the next call without a
 * request (CircuitOpenError), the upstream counting what reached it; then the browser stops the worker (as it stops an
 * idle one) and starts it again for the page's next call, which reaches the upstream: the breaker is closed, although
 * its 60 s open duration is far from over.
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

let dir: string
let site: StaticServer
let browser: Browser
const opened: { close(): Promise<void> }[] = []

/** The upstream: 503 while failing, else 200 with the count of requests that reached it for the path. */
const upstream = { failing: false, hits: new Map<string, number>(), origin: '' }
function answer(req: IncomingMessage, res: ServerResponse): void {
  const path = new URL(req.url ?? '/', 'http://127.0.0.1').pathname
  const hit = (upstream.hits.get(path) ?? 0) + 1
  upstream.hits.set(path, hit)
  const cors = { 'access-control-allow-origin': '*' }
  if (upstream.failing) return void res.writeHead(503, { ...cors, 'content-type': 'text/plain' }).end('down')
  res.writeHead(200, { ...cors, 'content-type': 'application/json' }).end(JSON.stringify({ path, hit }))
}
const api = createServer(answer)

beforeAll(async () => {
  dir = await bundlePage(PAGE_DIR, 'rf-sw-restart-')
  const common: BuildOptions = { entryPoints: [join(PAGE_DIR, 'sw.ts')], bundle: true, platform: 'browser', target: 'chrome120', logLevel: 'error' }
  await Promise.all([
    build({ ...common, plugins: [mainEntry], format: 'iife', outfile: join(dir, 'sw-classic.js') }),
    build({ ...common, plugins: [mainEntry], format: 'esm', outfile: join(dir, 'sw-module.js') }),
    build({ ...common, format: 'esm', splitting: true, outdir: dir, chunkNames: 'chunk-[hash]', entryNames: 'sw-entry-split' }),
  ])
  site = await serveDirectory(dir)
  upstream.origin = `http://127.0.0.1:${await listen(api)}`
  browser = await launchChromium()
})

afterEach(async () => {
  await Promise.all(opened.splice(0).map((context) => context.close()))
  upstream.failing = false
  upstream.hits.clear()
})

afterAll(async () => {
  await browser?.close()
  await site?.close()
  if (api.listening) await closeServer(api)
  if (dir) await rm(dir, { recursive: true, force: true })
})

const get = (page: Page, path: string) => page.evaluate((url) => window.app.get(url), upstream.origin + path)
const ask = (page: Page, what: string) => page.evaluate((what) => window.app.ask(what), what)
interface Snapshot {
  breakers: { key: string; state: string; rejected: number }[]
  totals: { requests: number; successes: number; failures: number; rejected: number }
}

describe.each([
  ['classic Service Worker (the main entry in one script)', 'sw-classic.js', 'classic'],
  ['module Service Worker (the main entry in one script)', 'sw-module.js', 'module'],
  ['module Service Worker on the code-split Service Worker entry (chunks)', 'sw-entry-split.js', 'module'],
] as const)('in a %s', (_name, script, type) => {
  it('an open breaker refuses without a request; once the browser stops the worker and starts it again, it is closed: the next call reaches the upstream', async () => {
    const { page } = await openControlled(browser, opened, site.url, script, type)
    // Three 503s (no copy of this URL: each is answered as it came) open the breaker.
    upstream.failing = true
    for (let i = 0; i < 3; i++) expect(await get(page, '/api/flaky')).toMatchObject({ status: 503, source: null })
    expect(upstream.hits.get('/api/flaky')).toBe(3)
    expect(await ask(page, 'snapshot')).toMatchObject({ breakers: [{ key: upstream.origin, state: 'open', rejected: 0 }] })

    // The upstream is back, but the open breaker refuses at once (60 s open): nothing reaches the upstream.
    upstream.failing = false
    const refused = await get(page, '/api/flaky')
    expect(refused).toMatchObject({ status: 504, source: null })
    expect(JSON.parse(refused.body)).toMatchObject({ name: 'CircuitOpenError' })
    expect(upstream.hits.get('/api/flaky')).toBe(3)
    expect(await ask(page, 'snapshot')).toMatchObject({ breakers: [{ state: 'open', rejected: 1 }], totals: { requests: 4 } })

    // As the browser does to an idle Service Worker: stopped, its memory gone; the page's next request starts it again.
    const cdp = await page.context().newCDPSession(page)
    await cdp.send('ServiceWorker.enable')
    await cdp.send('ServiceWorker.stopAllWorkers')
    expect(await get(page, '/api/flaky')).toMatchObject({ status: 200, source: null, body: JSON.stringify({ path: '/api/flaky', hit: 4 }) })
    expect(upstream.hits.get('/api/flaky')).toBe(4)
    // A new life (it counts only the call it just answered), whose breaker starts closed.
    const snapshot = (await ask(page, 'snapshot')) as Snapshot
    expect(snapshot).toMatchObject({ breakers: [{ key: upstream.origin, state: 'closed', rejected: 0 }], totals: { requests: 1, successes: 1, failures: 0 } })
    expect(await ask(page, 'events')).toEqual([])
  })
})
