/**
 * README "In a Service Worker": "`resilientKy()` there works once the worker also imports a value from
 * `resilient-fetch/service-worker` (the chunks it loads are then the entry's)". Headless Chromium, a module Service
 * Worker built code-split (chunks, as the published build is) whose fetch handler answers the page's `/api/*` through
 * `resilientKy` with the fallback on the default 'auto' store and hedging on. With a value of the Service Worker entry
 * imported: a copy is stored and served, a hedge answers a hung request, nothing is off. With `resilient-fetch/ky`
 * alone: import() is refused, so nothing is stored (each storeerror names the fix) and hedging is off (the console
 * says so), while calls still work.
 */
import { rm, writeFile } from 'node:fs/promises'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { join } from 'node:path'
import { build } from 'esbuild'
import type { Browser, Page } from 'playwright-core'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { bundlePage, closeServer, launchChromium, listen, serveDirectory, type StaticServer } from './harness.js'
import { controlledPage as openControlled } from './sw-harness.js'

const PAGE_DIR = join(import.meta.dirname, 'sw-page')
const SRC = join(import.meta.dirname, '../../src')

/** The worker: ky over the resilient fetch; `entryImport` is the line importing the Service Worker entry, or none. */
const worker = (entryImport: string) => `
${entryImport}
import { resilientKy } from ${JSON.stringify(join(SRC, 'integrations/ky.ts'))}
const said = []
const warn = console.warn
console.warn = (...args) => { said.push(args.map(String).join(' ')); warn(...args) }
const api = resilientKy({ retry: false, breaker: false, hedge: { delay: 300 }, timeout: { attempt: 1_500, total: 2_000 } })
const storeErrors = []
api.resilientFetch.addEventListener('storeerror', (event) => storeErrors.push(String(event.detail.error)))
self.addEventListener('install', (event) => event.waitUntil(self.skipWaiting()))
self.addEventListener('activate', (event) => event.waitUntil(self.clients.claim()))
self.addEventListener('fetch', (event) => {
  if (!new URL(event.request.url).pathname.startsWith('/api/')) return
  event.respondWith(
    api.get(event.request.url, { throwHttpErrors: false, resilience: { waitUntil: (p) => event.waitUntil(p) } }).then(async (response) =>
      new Response(await response.text(), { status: response.status, headers: { 'x-resilient-source': response.headers.get('x-resilient-source') ?? '' } }),
    ),
  )
})
self.addEventListener('message', (event) => event.ports[0].postMessage({ said, storeErrors, hedges: api.resilientFetch.snapshot().totals.hedges }))
`

let dir: string
let site: StaticServer
let browser: Browser
const opened: { close(): Promise<void> }[] = []

const upstream = { failing: false, hits: new Map<string, number>(), origin: '' }
function answer(req: IncomingMessage, res: ServerResponse): void {
  const path = new URL(req.url ?? '/', 'http://127.0.0.1').pathname
  const hit = (upstream.hits.get(path) ?? 0) + 1
  upstream.hits.set(path, hit)
  const headers = { 'access-control-allow-origin': '*', 'content-type': 'application/json' }
  if (upstream.failing) return void res.writeHead(503, headers).end('{}')
  // The first request to /api/slow never answers: only a hedge can.
  if (path === '/api/slow' && hit === 1) return
  res.writeHead(200, headers).end(JSON.stringify({ path, hit }))
}
const api = createServer(answer)

beforeAll(async () => {
  dir = await bundlePage(PAGE_DIR, 'rf-readme-sw-ky-')
  const entry = join(SRC, 'service-worker.ts')
  for (const [name, line] of [
    ['with-entry', `import { createResilientFetch } from ${JSON.stringify(entry)}\nif (typeof createResilientFetch !== 'function') throw new TypeError('no entry')`],
    ['ky-alone', ''],
  ]) {
    const source = join(dir, `${name}.src.js`)
    await writeFile(source, worker(line))
    await build({ entryPoints: [source], bundle: true, format: 'esm', splitting: true, outdir: dir, entryNames: name, chunkNames: `${name}-chunk-[hash]`, platform: 'browser', target: 'chrome120', logLevel: 'error', nodePaths: [join(import.meta.dirname, '../../node_modules')] })
  }
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
const ask = (page: Page) => page.evaluate(() => window.app.ask('state')) as Promise<{ said: string[]; storeErrors: string[]; hedges: number }>

describe('README: resilientKy in a Service Worker', () => {
  it('with a value of resilient-fetch/service-worker imported: the copy is stored and served, a hedge answers, nothing is off', async () => {
    const { page } = await openControlled(browser, opened, site.url, 'with-entry.js', 'module')
    const live = await get(page, '/api/items')
    expect(live).toMatchObject({ status: 200, source: '', body: JSON.stringify({ path: '/api/items', hit: 1 }) })
    // The copy is written in the background (waitUntil): wait until it is in the origin's cache.
    await expect.poll(() => page.evaluate(() => window.app.stored()), { timeout: 3_000 }).toEqual([`GET ${upstream.origin}/api/items`])
    upstream.failing = true
    expect(await get(page, '/api/items')).toMatchObject({ status: 200, source: 'fallback', body: live.body })
    upstream.failing = false
    expect(await get(page, '/api/slow')).toMatchObject({ status: 200, body: JSON.stringify({ path: '/api/slow', hit: 2 }) })
    expect(await ask(page)).toEqual({ said: [], storeErrors: [], hedges: 1 })
  })

  it('with resilient-fetch/ky alone: nothing is stored (each storeerror names the fix) and hedging is off, while calls work', async () => {
    const { page } = await openControlled(browser, opened, site.url, 'ky-alone.js', 'module')
    expect(await get(page, '/api/items')).toMatchObject({ status: 200, body: JSON.stringify({ path: '/api/items', hit: 1 }) })
    upstream.failing = true
    expect(await get(page, '/api/items')).toMatchObject({ status: 503, source: '' })
    const state = await ask(page)
    expect(state.storeErrors.length).toBeGreaterThan(0)
    for (const error of state.storeErrors) expect(error).toBe("TypeError: Service Workers refuse import(): use 'resilient-fetch/service-worker'")
    expect(state.said.some((line) => line.startsWith('resilient-fetch: hedge is off:'))).toBe(true)
    expect(state.hedges).toBe(0)
  })
})
