/**
 * What the Service Worker e2e files share: they drive test/e2e/sw-page (its page, and a worker of theirs or sw-page's
 * own), against an upstream on another origin (127.0.0.1).
 */
import { rm } from 'node:fs/promises'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { join } from 'node:path'
import { build, type BuildOptions, type Plugin } from 'esbuild'
import type { Browser, Page } from 'playwright-core'
import { afterAll, afterEach, beforeAll, expect } from 'vitest'
import { bundlePage, closeServer, launchChromium, listen, openPage, serveDirectory, type StaticServer } from './harness.js'

const SRC = join(import.meta.dirname, '../../src')
/** The page every Service Worker file loads, and the worker of its own (sw-page/sw.ts). */
export const PAGE_DIR = join(import.meta.dirname, 'sw-page')
export const FIX = "TypeError: Service Workers refuse import(): use 'resilient-fetch/service-worker'"

/** sw.ts on the main entry: its import of the Service Worker entry resolved to src/index.ts (a user importing 'resilient-fetch'). */
export const mainEntry: Plugin = {
  name: 'main-entry',
  setup: (build) => void build.onResolve({ filter: /\/src\/service-worker\.js$/ }, () => ({ path: join(SRC, 'index.ts') })),
}

/** Takes `server` down (connection refused: nothing listens on its port) or brings it back on `port`; nothing when it already is. */
export async function setListening(server: Server, port: number, up: boolean): Promise<void> {
  if (!up && server.listening) await closeServer(server)
  if (up && !server.listening) {
    await new Promise<void>((done, reject) => {
      server.once('error', reject)
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject)
        done()
      })
    })
  }
}

/**
 * A fresh context (its own storage and registrations, kept in `opened` for the test's end) whose pages of `siteUrl`
 * the Service Worker `script` controls.
 */
export async function controlledPage(browser: Browser, opened: { close(): Promise<void> }[], siteUrl: string, script: string, type: 'classic' | 'module'): Promise<{ page: Page; errors: string[] }> {
  const { context, page, errors } = await openPage(browser)
  opened.push(context)
  // No Playwright default (30 s) on the load and the ready wait below: they must happen; the test's timeout bounds them.
  page.setDefaultTimeout(0)
  await page.goto(siteUrl + '/')
  await page.waitForFunction(() => document.documentElement.dataset.ready === 'true')
  await page.evaluate(([script, type]) => window.app.register(script, type), [script, type] as const)
  return { page, errors }
}

/** As the browser does to an idle Service Worker: every worker of the page's context stopped, its memory gone. */
export async function stopWorkers(page: Page): Promise<void> {
  const cdp = await page.context().newCDPSession(page)
  await cdp.send('ServiceWorker.enable')
  await cdp.send('ServiceWorker.stopAllWorkers')
}

/** How a worker is bundled: one classic script (an IIFE), one module, or a module code-split (chunks). */
export type WorkerFormat = 'classic' | 'module' | 'split'

/**
 * Bundles the worker `entry` into `dir` as `name`.js, for Chromium 120; with `main`, on the main entry (mainEntry);
 * split, its chunks named `chunkNames`. `options` adds to esbuild's.
 */
export function bundleWorker(entry: string, dir: string, name: string, format: WorkerFormat, { main = false, chunkNames = 'chunk-[hash]', options = {} }: { main?: boolean; chunkNames?: string; options?: BuildOptions } = {}) {
  const common: BuildOptions = { entryPoints: [entry], bundle: true, platform: 'browser', target: 'chrome120', logLevel: 'error', ...(main ? { plugins: [mainEntry] } : {}), ...options }
  if (format === 'split') return build({ ...common, format: 'esm', splitting: true, outdir: dir, entryNames: name, chunkNames })
  return build({ ...common, format: format === 'classic' ? 'iife' : 'esm', outfile: join(dir, `${name}.js`) })
}

/**
 * The Service Workers of sw-page that work: the main entry as bundlers emit it, one script, dynamic imports inlined
 * (classic or module); and the Service Worker entry in a module that imports the code-split chunks, as the published
 * build is. Each: its name, its script, its type.
 */
export const WORKING = [
  ['classic Service Worker (the main entry in one script)', 'sw-classic.js', 'classic'],
  ['module Service Worker (the main entry in one script)', 'sw-module.js', 'module'],
  ['module Service Worker on the code-split Service Worker entry (chunks)', 'sw-entry-split.js', 'module'],
] as const

/** Bundles sw-page's worker into `dir` as each of WORKING is. */
export function bundleWorking(dir: string) {
  const worker = join(PAGE_DIR, 'sw.ts')
  return Promise.all([
    bundleWorker(worker, dir, 'sw-classic', 'classic', { main: true }),
    bundleWorker(worker, dir, 'sw-module', 'module', { main: true }),
    bundleWorker(worker, dir, 'sw-entry-split', 'split'),
  ])
}

/** Bundles `worker` code-split into `dir` twice: on the Service Worker entry (sw-entry.js) and on the main entry (sw-main.js). */
export async function bundleOnBothEntries(worker: string, dir: string): Promise<void> {
  await bundleWorker(worker, dir, 'sw-entry', 'split', { chunkNames: 'entry-chunk-[hash]' })
  await bundleWorker(worker, dir, 'sw-main', 'split', { main: true, chunkNames: 'main-chunk-[hash]' })
}

/** Polls `ok` until it holds, without a deadline: for what must happen; only the test's own timeout bounds it. */
export async function pollUntil(ok: () => boolean | Promise<boolean>): Promise<void> {
  while (!(await ok())) await new Promise((resolve) => setTimeout(resolve, 20))
}

export const CORS = { 'access-control-allow-origin': '*' }

/** The upstream, on 127.0.0.1 (another origin than the site's; CORS open to every origin). */
export interface Upstream {
  /** While set: every request is answered 503. */
  failing: boolean
  /** The requests that reached it, by path. */
  hits: Map<string, number>
  origin: string
  port: number
  server: Server
}

/** 200, the path and which request to it this was as JSON. */
export const answerHit = (res: ServerResponse, path: string, hit: number) => void res.writeHead(200, { ...CORS, 'content-type': 'application/json' }).end(JSON.stringify({ path, hit }))
/** 503, 'down' as text. */
export const answerDown = (res: ServerResponse) => void res.writeHead(503, { ...CORS, 'content-type': 'text/plain' }).end('down')

/**
 * An upstream (not listening until swSuite's beforeAll) that counts each request by path; then, while failing,
 * `failed` answers it, else `answer` (by default answerHit).
 */
export function createUpstream(
  answer: (req: IncomingMessage, res: ServerResponse, path: string, hit: number) => void = (_req, res, path, hit) => answerHit(res, path, hit),
  failed: (res: ServerResponse) => void = answerDown,
): Upstream {
  const upstream: Upstream = {
    failing: false,
    hits: new Map(),
    origin: '',
    port: 0,
    server: createServer((req, res) => {
      const path = new URL(req.url ?? '/', 'http://127.0.0.1').pathname
      const hit = (upstream.hits.get(path) ?? 0) + 1
      upstream.hits.set(path, hit)
      if (upstream.failing) return failed(res)
      answer(req, res, path, hit)
    }),
  }
  return upstream
}

export interface SwSuite {
  /** The site's directory: the page bundled, and the workers beside it. */
  readonly dir: string
  readonly site: StaticServer
  readonly browser: Browser
  /** The contexts opened by the test, closed at its end. */
  readonly opened: { close(): Promise<void> }[]
  /** A fresh context whose page of the site the Service Worker `script` controls. */
  controlledPage(script: string, type: 'classic' | 'module'): Promise<{ page: Page; errors: string[] }>
  /** The page's `path` of the upstream, fetched through the Service Worker. */
  get(page: Page, path: string): ReturnType<Window['app']['get']>
  /** What the Service Worker answers to the message `{ ask: what }`. */
  ask<T = unknown>(page: Page, what: string): Promise<T>
  /** The requests whose copies are in the origin's Cache API. */
  stored(page: Page): Promise<string[]>
}

/**
 * The hooks of a file of Service Worker tests. Before all: sw-page's page bundled into a directory of its own (`prefix`),
 * `bundle` writing the workers beside it, the directory served, the upstream listening, Chromium launched. After each
 * test: `release` first, then the test's contexts closed, the upstream answering again with nothing counted, `reset`.
 * After all: everything taken down, the directory removed (and `remove`).
 */
export function swSuite(
  upstream: Upstream,
  options: { prefix: string; bundle(dir: string): Promise<unknown>; release?(): void; reset?(): void | Promise<void>; remove?: () => string | undefined },
): SwSuite {
  let dir: string | undefined
  let site: StaticServer | undefined
  let browser: Browser | undefined
  const opened: { close(): Promise<void> }[] = []

  beforeAll(async () => {
    dir = await bundlePage(PAGE_DIR, options.prefix)
    await options.bundle(dir)
    site = await serveDirectory(dir)
    upstream.port = await listen(upstream.server)
    upstream.origin = `http://127.0.0.1:${upstream.port}`
    browser = await launchChromium()
  })

  afterEach(async () => {
    options.release?.()
    await Promise.all(opened.splice(0).map((context) => context.close()))
    upstream.failing = false
    upstream.hits.clear()
    await options.reset?.()
  })

  afterAll(async () => {
    await browser?.close()
    await site?.close()
    if (upstream.server.listening) await closeServer(upstream.server)
    for (const path of [dir, options.remove?.()]) if (path) await rm(path, { recursive: true, force: true })
  })

  return {
    get dir() {
      return dir!
    },
    get site() {
      return site!
    },
    get browser() {
      return browser!
    },
    opened,
    controlledPage: (script, type) => controlledPage(browser!, opened, site!.url, script, type),
    get: (page, path) => page.evaluate((url) => window.app.get(url), upstream.origin + path),
    ask: <T>(page: Page, what: string) => page.evaluate((what) => window.app.ask(what), what) as Promise<T>,
    stored: (page) => page.evaluate(() => window.app.stored()),
  }
}

/**
 * A user's worker on ky over the resilient fetch, as the README's 'In a Service Worker' shows it: `imports` are its
 * import lines (`resilientKy` among them). The fallback on the default 'auto' store, hedging after 300 ms, no retry, no
 * breaker; its fetch handler answers the page's `/api/*` through it, and a message asks for what the console said
 * (console.warn), each storeerror and the hedges sent.
 */
export const kyWorker = (imports: string) => `${imports}
const said = []
const warn = console.warn
console.warn = (...args) => { said.push(args.map(String).join(' ')); warn(...args) }
// Deadlines of the test's own timeout (60 s): the hedge that answers the hung /api/slow must come, however slow the machine.
const api = resilientKy({ retry: false, breaker: false, hedge: { delay: 300 }, timeout: { attempt: 60_000, total: 60_000 } })
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

/** What a kyWorker says of itself. */
export interface KyWorkerState {
  said: string[]
  storeErrors: string[]
  hedges: number
}

/** The upstream of a kyWorker: 503 with '{}' while failing; the first request to /api/slow never answers (only a hedge can). */
export const kyUpstream = () =>
  createUpstream(
    (_req, res, path, hit) => {
      if (path === '/api/slow' && hit === 1) return
      answerHit(res, path, hit)
    },
    (res) => void res.writeHead(503, { ...CORS, 'content-type': 'application/json' }).end('{}'),
  )

/** In `page`, controlled by a kyWorker whose chunks all loaded: the copy is stored and served, a hedge answers a hung request, nothing is off. */
export async function expectKyWorkerWhole(suite: SwSuite, upstream: Upstream, page: Page): Promise<void> {
  const live = await suite.get(page, '/api/items')
  expect(live).toMatchObject({ status: 200, source: '', body: JSON.stringify({ path: '/api/items', hit: 1 }) })
  // The copy is written in the background (waitUntil): wait until it is in the origin's cache.
  await pollUntil(async () => (await suite.stored(page)).length > 0)
  expect(await suite.stored(page)).toEqual([`GET ${upstream.origin}/api/items`])
  upstream.failing = true
  expect(await suite.get(page, '/api/items')).toMatchObject({ status: 200, source: 'fallback', body: live.body })
  expect(upstream.hits.get('/api/items')).toBe(2)
  upstream.failing = false
  expect(await suite.get(page, '/api/slow')).toMatchObject({ status: 200, body: JSON.stringify({ path: '/api/slow', hit: 2 }) })
  expect(await suite.ask<KyWorkerState>(page, 'state')).toEqual({ said: [], storeErrors: [], hedges: 1 })
}
