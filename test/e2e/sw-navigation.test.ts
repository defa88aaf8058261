/**
 * The "offline page" flow in a real Service Worker (headless Chromium): the worker of test/e2e/sw-page answers the
 * navigations to its site's `/pages/*` with `rf(event.request, { resilience: { waitUntil } })`, as the README shows, and
 * `/own/*` through an instance with `private: true`. The site (the worker's origin) serves those HTML pages itself and is
 * the server the tests answer 503 with or take down. A navigation request has mode 'navigate' and redirect 'manual'.
 */
import { readFile, rm } from 'node:fs/promises'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { extname, join } from 'node:path'
import { build, type BuildOptions } from 'esbuild'
import type { Browser, Page, Response } from 'playwright-core'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { bundlePage, closeServer, launchChromium, listen, openPage } from './harness.js'
import { controlledPage as openControlled, mainEntry, setListening } from './sw-harness.js'

const PAGE_DIR = join(import.meta.dirname, 'sw-page')

let dir: string
let browser: Browser
const opened: { close(): Promise<void> }[] = []

/** The site: the test page and worker scripts, and the HTML pages whose server the tests fail ('down': nothing listens). */
const site = {
  mode: 'up' as 'up' | '503' | 'down',
  /** Requests for each page that reached the server, by path and query. */
  hits: new Map<string, number>(),
  /** The Referer and Sec-Fetch-Mode of each request for a page, by path. */
  seen: new Map<string, string[]>(),
  /** Ends of the responses /pages/slow holds back after its first, until the test is over. */
  held: [] as (() => void)[],
  port: 0,
  url: '',
}

const TYPES: Record<string, string> = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8' }
const html = (body: string) => `<!doctype html><html lang="en"><head><meta charset="utf-8"><link rel="icon" href="data:,"><title>page</title></head><body>${body}</body></html>`

/** A page of the site: its text names the path, the query and which request to it this was. */
function page(req: IncomingMessage, res: ServerResponse): void {
  const url = new URL(req.url ?? '/', 'http://127.0.0.1')
  const at = url.pathname + url.search
  const hit = (site.hits.get(at) ?? 0) + 1
  site.hits.set(at, hit)
  site.seen.set(at, [...(site.seen.get(at) ?? []), `${req.headers.referer} ${req.headers['sec-fetch-mode']}`])
  // A form's POST: the page names what was posted.
  if (req.method === 'POST') {
    let posted = ''
    req.setEncoding('utf8').on('data', (chunk: string) => (posted += chunk))
    return void req.on('end', () => res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(html(`<p>${at} posted ${posted}</p>`)))
  }
  const type = { 'content-type': 'text/html; charset=utf-8' }
  if (site.mode === '503') return void res.writeHead(503, type).end(html('<p>server unavailable</p>'))
  // A page that moved (as a site sends an old address, or a signed-out user, to another page).
  if (url.pathname === '/pages/old') return void res.writeHead(302, { location: '/pages/new' }).end()
  const headers: Record<string, string> = { ...type, 'cache-control': 'no-cache' }
  // Answers once; then holds its answer back (a server that hangs).
  if (url.pathname === '/pages/slow' && hit > 1) return void site.held.push(() => res.end())
  // Slower than the hedging instance's hedge delay (400 ms), within its attempt deadline.
  if (url.pathname === '/pages/hedged/slow') return void setTimeout(() => res.writeHead(200, headers).end(html(`<p id="text">${at} visit ${hit}</p>`)), 800)
  if (url.pathname === '/pages/cookie') headers['set-cookie'] = 'session=abc; Path=/'
  if (url.pathname.endsWith('/private')) headers['cache-control'] = 'private'
  if (url.pathname === '/pages/no-store') headers['cache-control'] = 'no-store'
  res.writeHead(200, headers).end(html(`<p id="text">${at} visit ${hit}</p>`))
}

async function serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const path = new URL(req.url ?? '/', 'http://127.0.0.1').pathname
  if (path.startsWith('/pages/') || path.startsWith('/own/')) return page(req, res)
  // The bundle's own files: index.html, page.js, the worker scripts and their chunks (flat in `dir`).
  const file = join(dir, path === '/' ? 'index.html' : path.slice(1))
  if (!/^\/[\w.-]*$/.test(path)) return void res.writeHead(404).end()
  try {
    const body = await readFile(file)
    res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream', 'cache-control': 'no-store' }).end(body)
  } catch {
    res.writeHead(404).end()
  }
}
const server = createServer((req, res) => void serve(req, res))

/** Fails the site's pages (503), takes the site down (connection refused) or brings it back on the same port. */
async function setSite(mode: 'up' | '503' | 'down'): Promise<void> {
  site.mode = mode
  await setListening(server, site.port, mode !== 'down')
}

beforeAll(async () => {
  dir = await bundlePage(PAGE_DIR, 'rf-sw-nav-')
  const common: BuildOptions = { entryPoints: [join(PAGE_DIR, 'sw.ts')], bundle: true, platform: 'browser', target: 'chrome120', logLevel: 'error' }
  await Promise.all([
    build({ ...common, plugins: [mainEntry], format: 'iife', outfile: join(dir, 'sw-classic.js') }),
    build({ ...common, format: 'esm', splitting: true, outdir: dir, chunkNames: 'chunk-[hash]', entryNames: 'sw-entry-split' }),
  ])
  site.port = await listen(server)
  site.url = `http://127.0.0.1:${site.port}`
  browser = await launchChromium()
})

afterEach(async () => {
  for (const end of site.held.splice(0)) end()
  await Promise.all(opened.splice(0).map((context) => context.close()))
  await setSite('up')
  site.hits.clear()
  site.seen.clear()
})

afterAll(async () => {
  await browser?.close()
  if (server.listening) await closeServer(server)
  if (dir) await rm(dir, { recursive: true, force: true })
})

const WORKERS = [
  ['module Service Worker on the code-split Service Worker entry (chunks)', 'sw-entry-split.js', 'module'],
  ['classic Service Worker (the main entry in one script)', 'sw-classic.js', 'classic'],
] as const

/** A fresh context (its own storage and registrations) whose pages of the site the Service Worker controls. */
const controlledPage = (script: string, type: 'classic' | 'module') => openControlled(browser, opened, site.url, script, type)

/** The keys of the 'auto' store's cache, as the URLs they stand for; read from any page of the origin. */
const stored = (page: Page) =>
  page.evaluate(async () => {
    const keys = await (await caches.open('resilient-fetch')).keys()
    return keys.map((request) => decodeURIComponent(request.url.slice('https://resilient-fetch.invalid/'.length))).sort()
  })

/** What a navigation showed: its status, where the answer came from, the page's text and where it ended up. */
async function shown(page: Page, response: Response | null) {
  return {
    status: response?.status(),
    source: (await response?.headerValue('x-resilient-source')) ?? null,
    text: await page.locator('body').innerText(),
    url: page.url(),
  }
}
const visit = async (page: Page, path: string) => shown(page, await page.goto(site.url + path))

/** Back on the test page (which the worker controls), until every copy the worker handed to waitUntil has landed or was dropped. */
async function settled(page: Page): Promise<void> {
  await page.goto(site.url + '/')
  await page.waitForFunction(() => document.documentElement.dataset.ready === 'true')
  await expect.poll(() => page.evaluate(() => window.app.ask('pending')), { timeout: 3_000 }).toMatchObject({ waitUntil: 0 })
}

describe.each(WORKERS)('navigations through a %s', (_name, script, type) => {
  it('a page goes to the network and is stored; with the server answering 503, or down, a reload or a navigation to it shows the stored page', async () => {
    const { page, errors } = await controlledPage(script, type)
    const live = await visit(page, '/pages/home')
    expect(live).toEqual({ status: 200, source: null, text: '/pages/home visit 1', url: site.url + '/pages/home' })
    // It went through the worker: the site saw the one request, and the copy is in the origin's cache.
    expect(site.hits.get('/pages/home')).toBe(1)
    await expect.poll(() => stored(page), { timeout: 3_000 }).toEqual([`GET ${site.url}/pages/home`])

    await setSite('503')
    // A reload: the server's 503 reached the worker (a second request), and the stored page answered it.
    const reloaded = await shown(page, await page.reload())
    expect(reloaded).toEqual({ status: 200, source: 'fallback', text: '/pages/home visit 1', url: site.url + '/pages/home' })
    expect(site.hits.get('/pages/home')).toBe(2)
    // The document itself says where it came from: the navigation entry of the stored page, served by the worker.
    const entry = await page.evaluate(() => {
      const [navigation] = performance.getEntriesByType('navigation') as PerformanceNavigationTiming[]
      return { type: navigation!.type, status: navigation!.responseStatus, worker: navigation!.workerStart > 0 }
    })
    expect(entry).toEqual({ type: 'reload', status: 200, worker: true })

    await setSite('down')
    // A new navigation to it, from another document (not a reload).
    await page.goto('about:blank')
    expect(await visit(page, '/pages/home')).toEqual({ status: 200, source: 'fallback', text: '/pages/home visit 1', url: site.url + '/pages/home' })
    // A page never visited has no copy: the failure stands (connection refused, a network error for the navigation).
    await expect(page.goto(site.url + '/pages/never')).rejects.toThrow(/net::ERR_FAILED/)
    expect(errors).toEqual([])
  })

  it('a navigation answered by a 302 is followed as a plain navigation: the final page is shown and stored, the redirect never', async () => {
    const { page } = await controlledPage(script, type)
    const response = await page.goto(site.url + '/pages/old')
    expect(await shown(page, response)).toEqual({ status: 200, source: null, text: '/pages/new visit 1', url: site.url + '/pages/new' })
    // The browser followed it: the 302 went back to it (an opaque redirect), and its new navigation came through the worker again.
    expect(response!.request().redirectedFrom()?.url()).toBe(site.url + '/pages/old')
    expect([site.hits.get('/pages/old'), site.hits.get('/pages/new')]).toEqual([1, 1])
    await settled(page)
    expect(await stored(page)).toEqual([`GET ${site.url}/pages/new`])

    // With the server failing: the old address has no copy (its 503 stands, no stored redirect nor empty page answers
    // it), the new one has its copy.
    await setSite('503')
    expect(await visit(page, '/pages/old')).toEqual({ status: 503, source: null, text: 'server unavailable', url: site.url + '/pages/old' })
    expect(await visit(page, '/pages/new')).toMatchObject({ status: 200, source: 'fallback', text: '/pages/new visit 1' })
  })

  it('a copy is keyed by the URL with its query, without its fragment', async () => {
    const { page } = await controlledPage(script, type)
    expect(await visit(page, '/pages/search?q=one')).toMatchObject({ status: 200, text: '/pages/search?q=one visit 1' })
    expect(await visit(page, '/pages/doc#intro')).toMatchObject({ status: 200, text: '/pages/doc visit 1', url: site.url + '/pages/doc#intro' })
    await expect.poll(() => stored(page), { timeout: 3_000 }).toEqual([`GET ${site.url}/pages/doc`, `GET ${site.url}/pages/search?q=one`])
    // The worker was given the fragment (the request's URL keeps it): the store's key dropped it.
    await settled(page)
    expect(await page.evaluate(() => window.app.ask('navigations'))).toEqual([`${site.url}/pages/search?q=one manual`, `${site.url}/pages/doc#intro manual`])

    await setSite('503')
    // The same query finds its copy; another query has none (the site's 503 stands).
    expect(await visit(page, '/pages/search?q=one')).toMatchObject({ status: 200, source: 'fallback', text: '/pages/search?q=one visit 1' })
    expect(await visit(page, '/pages/search?q=two')).toMatchObject({ status: 503, source: null, text: 'server unavailable' })
    // Another fragment, or none, is the same page: its copy answers, and the address keeps the fragment asked for.
    await page.goto('about:blank')
    expect(await visit(page, '/pages/doc#usage')).toEqual({ status: 200, source: 'fallback', text: '/pages/doc visit 1', url: site.url + '/pages/doc#usage' })
    expect(await visit(page, '/pages/doc')).toMatchObject({ status: 200, source: 'fallback', text: '/pages/doc visit 1' })
  })

  it('Set-Cookie is invisible to fetch (the page is stored, without the cookie); Cache-Control: private is stored only with private: true; no-store never', async () => {
    const { page } = await controlledPage(script, type)
    for (const path of ['/pages/cookie', '/pages/private', '/pages/no-store', '/own/private']) {
      expect(await visit(page, path)).toMatchObject({ status: 200, source: null, text: `${path} visit 1` })
    }
    // The browser took the cookie (the worker's fetch went with the page's credentials), though fetch never shows it.
    expect((await page.context().cookies(site.url)).map(({ name, value }) => `${name}=${value}`)).toEqual(['session=abc'])
    await settled(page)
    expect(await stored(page)).toEqual([`GET ${site.url}/own/private`, `GET ${site.url}/pages/cookie`])


    await setSite('503')
    expect(await visit(page, '/pages/cookie')).toMatchObject({ status: 200, source: 'fallback', text: '/pages/cookie visit 1' })
    expect(await visit(page, '/own/private')).toMatchObject({ status: 200, source: 'fallback', text: '/own/private visit 1' })
    for (const path of ['/pages/private', '/pages/no-store']) expect(await visit(page, path)).toMatchObject({ status: 503, source: null })
  })

  it('a navigation from another site reaches the server as it does without the worker: its Referer, Sec-Fetch-Mode navigate', async () => {
    const { page } = await controlledPage(script, type)
    const response = await page.goto(site.url + '/pages/from', { referer: 'https://search.example/' })
    expect(await shown(page, response)).toMatchObject({ status: 200, source: null, text: '/pages/from visit 1' })
    // The same navigation in a context of its own, which no worker controls.
    const { context, page: bare } = await openPage(browser)
    opened.push(context)
    await bare.goto(site.url + '/pages/from', { referer: 'https://search.example/' })
    // An init (the attempt's signal) would make it mode 'same-origin' with the worker's script as its Referer.
    expect(site.seen.get('/pages/from')).toEqual(['https://search.example/ navigate', 'https://search.example/ navigate'])
  })

  it('a navigation is never hedged: it reaches the server once, as a navigation, though the hedge delay passed', async () => {
    const { page } = await controlledPage(script, type)
    expect(await visit(page, '/pages/hedged/slow')).toMatchObject({ status: 200, source: null, text: '/pages/hedged/slow visit 1' })
    // A hedge would have gone with an init (its cache mode): a second request, mode 'same-origin', that nothing could abort.
    expect(site.seen.get('/pages/hedged/slow')).toEqual(['undefined navigate'])
  })

  it('a navigation to a server that hangs ends at the attempt deadline and is answered by the stored page', async () => {
    const { page } = await controlledPage(script, type)
    expect(await visit(page, '/pages/slow')).toMatchObject({ status: 200, source: null, text: '/pages/slow visit 1' })
    await expect.poll(() => stored(page), { timeout: 3_000 }).toEqual([`GET ${site.url}/pages/slow`])
    await page.goto('about:blank')
    // The worker's attempt deadline (500 ms) ends the call though the request is still out; the copy answers it.
    expect(await visit(page, '/pages/slow')).toEqual({ status: 200, source: 'fallback', text: '/pages/slow visit 1', url: site.url + '/pages/slow' })
    expect(site.held).toHaveLength(1)
  })

  it("a form's POST navigation goes through with its body, as a navigation, and is never stored", async () => {
    const { page } = await controlledPage(script, type)
    expect(await visit(page, '/pages/form')).toMatchObject({ status: 200, text: '/pages/form visit 1' })
    await page.setContent('<form method="post" action="/pages/submit"><input name="q" value="one"><button>send</button></form>')
    await Promise.all([page.waitForURL(site.url + '/pages/submit'), page.click('button')])
    expect(await page.locator('body').innerText()).toBe('/pages/submit posted q=one')
    expect(site.seen.get('/pages/submit')).toEqual([`${site.url}/pages/form navigate`])
    await settled(page)
    expect(await stored(page)).toEqual([`GET ${site.url}/pages/form`])
  })
})
