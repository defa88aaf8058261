/**
 * README "In a Service Worker": "`resilientKy()` there works once the worker also imports
 * `resilient-fetch/service-worker`, even bare (`import 'resilient-fetch/service-worker'`: package.json marks that entry,
 * alone, as having side effects, so bundlers keep it), and the chunks it loads are then the entry's." The package as a
 * user installs it (a node_modules/resilient-fetch directory holding the repo's package.json and a dist built as
 * tsup.config.ts builds it, code-split ESM; ky and idb-keyval beside it), a worker of two import lines bundled from it by
 * esbuild code-split (the chunks the main entry loads with import() stay behind import()), run as a module Service
 * Worker in headless Chromium against an upstream on another origin (127.0.0.1): a copy is stored and served, a hedge
 * answers a hung request, no storeerror, nothing said off.
 */
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { build as esbuild } from 'esbuild'
import type { Browser, Page } from 'playwright-core'
import { build as tsup, type Options } from 'tsup'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import config from '../../tsup.config.js'
import { bundlePage, closeServer, launchChromium, listen, serveDirectory, type StaticServer } from './harness.js'
import { controlledPage as openControlled } from './sw-harness.js'

const ROOT = join(import.meta.dirname, '../..')
const PAGE_DIR = join(import.meta.dirname, 'sw-page')

/** The user's worker: the bare import beside resilientKy, the fallback on the default 'auto' store, hedging on. */
const WORKER = `import 'resilient-fetch/service-worker'
import { resilientKy } from 'resilient-fetch/ky'
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

/** Where the package is installed (removed at the end), and the site the page and the worker are served from. */
let project: string
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
  project = await mkdtemp(join(tmpdir(), 'rf-sw-bare-'))
  // Laid out as installed: node_modules/resilient-fetch with the package's package.json (its exports and sideEffects) and dist.
  const installed = join(project, 'node_modules/resilient-fetch')
  await mkdir(installed, { recursive: true })
  await copyFile(join(ROOT, 'package.json'), join(installed, 'package.json'))
  for (const name of ['ky', 'idb-keyval']) await symlink(join(ROOT, 'node_modules', name), join(project, 'node_modules', name))
  const entry = { index: 'src/index.ts', ky: 'src/integrations/ky.ts', 'service-worker': 'src/service-worker.ts' }
  const entries = Object.fromEntries(Object.entries(entry).map(([name, path]) => [name, join(ROOT, path)]))
  await tsup({ ...(config as Options), entry: entries, format: ['esm'], dts: false, clean: false, outDir: join(installed, 'dist'), config: false, silent: true })

  dir = await bundlePage(PAGE_DIR, 'rf-sw-bare-site-')
  await writeFile(join(project, 'sw.js'), WORKER)
  await esbuild({ entryPoints: [join(project, 'sw.js')], absWorkingDir: project, bundle: true, splitting: true, format: 'esm', platform: 'browser', target: 'chrome120', outdir: dir, entryNames: 'sw-bare', chunkNames: 'chunk-[hash]', logLevel: 'error' })
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
  for (const path of [dir, project]) if (path) await rm(path, { recursive: true, force: true })
})

const get = (page: Page, path: string) => page.evaluate((url) => window.app.get(url), upstream.origin + path)
const ask = (page: Page) => page.evaluate(() => window.app.ask('state')) as Promise<{ said: string[]; storeErrors: string[]; hedges: number }>

describe("a bare import 'resilient-fetch/service-worker' beside resilientKy, bundled by esbuild from the installed package", () => {
  it('the bundle still loads chunks with import() (which the Service Worker refuses)', async () => {
    const scripts = (await readdir(dir)).filter((file) => file.startsWith('sw-bare') || file.startsWith('chunk-'))
    const sources = await Promise.all(scripts.map((file) => readFile(join(dir, file), 'utf8')))
    expect(scripts.length).toBeGreaterThan(1)
    expect(sources.some((source) => source.includes('import('))).toBe(true)
  })

  it('in a module Service Worker: the copy is stored and served, a hedge answers a hung request; no storeerror, nothing is off', async () => {
    const { page } = await openControlled(browser, opened, site.url, 'sw-bare.js', 'module')
    const live = await get(page, '/api/items')
    expect(live).toMatchObject({ status: 200, source: '', body: JSON.stringify({ path: '/api/items', hit: 1 }) })
    // The copy is written in the background (waitUntil): wait until it is in the origin's cache.
    await expect.poll(() => page.evaluate(() => window.app.stored()), { timeout: 3_000 }).toEqual([`GET ${upstream.origin}/api/items`])
    upstream.failing = true
    expect(await get(page, '/api/items')).toMatchObject({ status: 200, source: 'fallback', body: live.body })
    expect(upstream.hits.get('/api/items')).toBe(2)
    upstream.failing = false
    expect(await get(page, '/api/slow')).toMatchObject({ status: 200, body: JSON.stringify({ path: '/api/slow', hit: 2 }) })
    expect(await ask(page)).toEqual({ said: [], storeErrors: [], hedges: 1 })
  })
})
