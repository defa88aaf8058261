/**
 * Hedging through a browser's HTTP cache (headless Chromium: a page, a dedicated Worker, a Service Worker), against a
 * real upstream on 127.0.0.1 on another origin than the page (CORS). Chromium holds a second GET for a URL in its HTTP
 * cache until the first one, whose entry it is writing, has its headers: a hedge sent through the cache never reached
 * the network before the attempt it should beat (it went out only once the first attempt's deadline had aborted it,
 * or the first had its answer). A hedge goes with cache 'no-store' there.
 *
 * The upstream holds the first request of each scenario and never answers it: the client drops it, the hedge having
 * won, or (a hedge held in the cache) the first attempt's deadline aborts it, and only then does the hedge go out. The
 * wait for the hedge has no bound of the test's own (a stalled machine is no failure); only that deadline (3 s,
 * ./hedge-cache-page/call.ts) and the test's timeout bound it. Every later request is answered at once. Each test asserts what the upstream saw: the hedge arrived while the first request was
 * still held, with the request headers cache 'no-store' adds (Cache-Control and Pragma: no-cache) and the first
 * without them, no CORS preflight; and what the caller saw: the hedge's answer, hedged, nothing timed out. No timings.
 *
 * README "Hedged requests", in a browser: "Your own cache: 'no-store' is kept ...; 'default', 'no-cache', 'reload' and
 * 'force-cache' hedges go with 'no-store'". The first describe holds 'default' and 'force-cache'; the second, on a page,
 * the others: what the upstream saw of the first request (as the caller sent it) and of the hedge (through no cache),
 * that the hedge arrived while the first was held, and what the caller saw: the hedge's answer.
 */
import { readFile, rm } from 'node:fs/promises'
import { createServer, type ServerResponse } from 'node:http'
import { join } from 'node:path'
import { build } from 'esbuild'
import type { Browser, Page } from 'playwright-core'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { bundlePage, closeServer, launchChromium, listen, openPage, serveDirectory, type StaticServer } from './harness.js'
import type { Answer, Ask } from './hedge-cache-page/call.js'

const PAGE_DIR = join(import.meta.dirname, 'hedge-cache-page')

/** What the upstream saw of one request. */
interface Seen {
  method: string
  cacheControl: string | null
  pragma: string | null
  /** Whether the scenario's first request was still held (its connection open, unanswered) when this one arrived. */
  whileFirstHeld: boolean
}

/** One scenario (a path): what the upstream saw, and its first request, held. */
interface Scenario {
  seen: Seen[]
  preflights: number
  first?: ServerResponse
  /** The first request's connection closed (the client dropped it, or it was answered). */
  firstClosed: boolean
}

const CORS = { 'access-control-allow-origin': '*' }
const scenarios = new Map<string, Scenario>()

const upstream = createServer((req, res) => {
  const path = new URL(req.url ?? '/', 'http://127.0.0.1').pathname
  // The page's files, served from the upstream's origin too: a same-origin page for 'only-if-cached' (mode 'same-origin').
  if (path.startsWith('/site/')) {
    const file = path === '/site/' ? 'index.html' : path.slice('/site/'.length)
    return void readFile(join(dir, file)).then(
      (body) => res.writeHead(200, { 'content-type': file.endsWith('.js') ? 'text/javascript' : 'text/html', 'cache-control': 'no-store' }).end(body),
      () => res.writeHead(404).end(),
    )
  }
  let scenario = scenarios.get(path)
  if (scenario === undefined) scenarios.set(path, (scenario = { seen: [], preflights: 0, firstClosed: false }))
  // Answered, and counted: a hedge must not bring one.
  if (req.method === 'OPTIONS') {
    scenario.preflights++
    return void res.writeHead(204, { ...CORS, 'access-control-allow-methods': '*', 'access-control-allow-headers': '*' }).end()
  }
  const header = (name: string) => (typeof req.headers[name] === 'string' ? (req.headers[name] as string) : null)
  const whileFirstHeld = scenario.first !== undefined && !scenario.firstClosed
  scenario.seen.push({ method: req.method ?? '', cacheControl: header('cache-control'), pragma: header('pragma'), whileFirstHeld })
  if (scenario.seen.length === 1) {
    const held = scenario
    held.first = res
    res.on('close', () => (held.firstClosed = true))
    return
  }
  res.writeHead(200, { ...CORS, 'content-type': 'text/plain' }).end(`answer ${scenario.seen.length}`)
})

let dir: string
let site: StaticServer
let origin: string
let browser: Browser
let page: Page
let errors: string[]
let runs = 0

beforeAll(async () => {
  dir = await bundlePage(PAGE_DIR, 'rf-hedge-cache-')
  const common = { bundle: true, format: 'esm', platform: 'browser', target: 'chrome120', logLevel: 'error' } as const
  await Promise.all(['worker', 'sw'].map((name) => build({ ...common, entryPoints: [join(PAGE_DIR, `${name}.ts`)], outfile: join(dir, `${name}.js`) })))
  site = await serveDirectory(dir)
  origin = `http://127.0.0.1:${await listen(upstream)}`
  browser = await launchChromium()
})

afterEach(async () => {
  await page?.context().close()
  // A first request still held (a failing run): answered, so nothing waits on it.
  for (const scenario of scenarios.values()) if (!scenario.firstClosed) scenario.first?.writeHead(200, CORS).end('late')
})

afterAll(async () => {
  await browser?.close()
  await site?.close()
  if (upstream.listening) await closeServer(upstream)
  if (dir) await rm(dir, { recursive: true, force: true })
})

async function freshPage(): Promise<void> {
  ;({ page, errors } = await openPage(browser))
  // No Playwright default (30 s) on the load and the ready wait: they must happen; the test's timeout bounds them.
  page.setDefaultTimeout(0)
  await page.goto(site.url + '/')
  await page.waitForFunction(() => document.documentElement.dataset.ready === 'true')
}

/** Makes the call (on the page, in a dedicated Worker or in a Service Worker) on a scenario of its own; what the caller saw and what the upstream saw. */
async function hedged(where: 'page' | 'dedicated Worker' | 'Service Worker', ask: Omit<Ask, 'url'>): Promise<{ answer: Answer; scenario: Scenario }> {
  const path = `/h/${++runs}`
  const full = { ...ask, url: origin + path }
  const answer = await (where === 'page'
    ? page.evaluate((a) => window.hedging.call(a), full)
    : where === 'dedicated Worker'
      ? page.evaluate((a) => window.hedging.inWorker(a), full)
      : page.evaluate((url) => window.hedging.inServiceWorker(url), full.url))
  const scenario = scenarios.get(path)!
  // The loser is aborted: its held request's connection closes. Polled without a deadline: the test's timeout bounds it.
  while (!scenario.firstClosed) await new Promise((resolve) => setTimeout(resolve, 20))
  expect(scenario.firstClosed).toBe(true)
  return { answer, scenario }
}

/** The call the hedge won, the first request held meanwhile: nothing timed out. */
const WON = { status: 200, body: 'answer 2', hedged: true, attempts: 2, timeouts: 0, hedges: 1 }
/** The first request as the caller sent it (cache 'default'), then the hedge, through no cache, while the first was held. */
const FIRST = { method: 'GET', cacheControl: null, pragma: null, whileFirstHeld: false }
const HEDGE = { method: 'GET', cacheControl: 'no-cache', pragma: 'no-cache', whileFirstHeld: true }

describe("a hedge bypasses the browser's HTTP cache, which would hold it until the first attempt has its headers", () => {
  beforeEach(freshPage)

  const CASES: [string, Omit<Ask, 'url'>][] = [
    ['a URL (cache default)', { input: 'url' }],
    ['a Request (cache default)', { input: 'request' }],
    ["a Request with cache 'no-store' and init cache 'default' (init's wins, as in fetch)", { input: 'request', request: { cache: 'no-store' }, init: { cache: 'default' } }],
  ]

  it.each(CASES)('on a page, cross-origin GET of %s: the hedge reaches the upstream while the first is held, and wins; no preflight', async (_name, ask) => {
    const { answer, scenario } = await hedged('page', ask)
    expect(answer).toEqual(WON)
    expect(scenario.seen).toEqual([FIRST, HEDGE])
    expect(scenario.preflights).toBe(0)
    expect(errors).toEqual([])
  })

  it("on a page, with init cache 'force-cache': the hedge goes to the network too (it would wait, then take the first's answer)", async () => {
    const { answer, scenario } = await hedged('page', { input: 'url', init: { cache: 'force-cache' } })
    expect(answer).toEqual(WON)
    expect(scenario.seen).toEqual([FIRST, HEDGE])
    expect(scenario.preflights).toBe(0)
  })

  it.each(['dedicated Worker', 'Service Worker'] as const)("in a %s, a URL (the Service Worker: its fetch event's Request, cache default): the same", async (where) => {
    const { answer, scenario } = await hedged(where, { input: 'url' })
    expect(answer).toEqual(WON)
    expect(scenario.seen).toEqual([FIRST, HEDGE])
    expect(scenario.preflights).toBe(0)
    expect(errors).toEqual([])
  })
})

/** The browser's own request headers for a cache mode, as the upstream sees them. */
const AS_SENT = {
  'no-store': { cacheControl: 'no-cache', pragma: 'no-cache' },
  reload: { cacheControl: 'no-cache', pragma: 'no-cache' },
  'no-cache': { cacheControl: 'max-age=0', pragma: null },
} as const

describe("on a page, a hedge's cache mode", () => {
  beforeEach(freshPage)

  it.each([
    ["init cache 'no-store' (the caller's own, kept)", 'no-store', { input: 'url', init: { cache: 'no-store' } }],
    ["init cache 'reload' (the hedge goes with 'no-store')", 'reload', { input: 'url', init: { cache: 'reload' } }],
    ["init cache 'no-cache' (the hedge goes with 'no-store')", 'no-cache', { input: 'url', init: { cache: 'no-cache' } }],
    ["a Request with cache 'no-cache'", 'no-cache', { input: 'request', request: { cache: 'no-cache' } }],
  ] as [string, keyof typeof AS_SENT, Omit<Ask, 'url'>][])('%s: the first goes as sent, the hedge reaches the upstream while the first is held, and wins', async (_name, mode, ask) => {
    const { answer, scenario } = await hedged('page', ask)
    expect(answer).toEqual(WON)
    expect(scenario.seen).toEqual([{ method: 'GET', ...AS_SENT[mode], whileFirstHeld: false }, HEDGE])
    expect(scenario.preflights).toBe(0)
    expect(errors).toEqual([])
  })
})

/*
 * README "Hedged requests", in a browser: "Your own cache: 'no-store' is kept, and so is 'only-if-cached' (its hedge never
 * goes to the network)". On a page of the upstream's own origin (only-if-cached needs mode 'same-origin'), a plain fetch
 * of the URL is held by the upstream; the call with cache 'only-if-cached' waits in the HTTP cache behind it (Chromium
 * holds it until that entry has its headers), so its hedge is due (100 ms). The upstream sees no second request while
 * the plain fetch is held (a hedge with 'no-store' would reach it at once; the wait showing it does not is bounded, 1 s),
 * nor after it is answered (max-age 60): the call, its hedge sent (two attempts), is answered from the cache.
 */
describe("on a page, a hedge of a call with cache 'only-if-cached'", () => {
  it("never goes to the network: the upstream sees only the plain fetch the call waited behind", async () => {
    ;({ page, errors } = await openPage(browser))
    page.setDefaultTimeout(0)
    await page.goto(origin + '/site/')
    await page.waitForFunction(() => document.documentElement.dataset.ready === 'true')
    const path = `/h/${++runs}`
    const url = origin + path
    // The plain fetch, held by the upstream (the scenario's first request).
    await page.evaluate((u) => void ((window as unknown as { plain: Promise<string> }).plain = fetch(u).then((r) => r.text())), url)
    while (scenarios.get(path)?.first === undefined) await new Promise((resolve) => setTimeout(resolve, 20))
    const answer = page.evaluate((u) => window.hedging.call({ url: u, input: 'url', init: { cache: 'only-if-cached', mode: 'same-origin' } }), url)
    // Its hedge is due after 100 ms: bounded wait, showing none reaches the upstream while the plain fetch is held.
    await new Promise((resolve) => setTimeout(resolve, 1_000))
    const scenario = scenarios.get(path)!
    expect(scenario.seen, 'no request but the plain fetch while it was held').toHaveLength(1)
    scenario.first!.writeHead(200, { 'content-type': 'text/plain', 'cache-control': 'max-age=60' }).end('stored')
    expect(await page.evaluate(() => (window as unknown as { plain: Promise<string> }).plain)).toBe('stored')
    // Its hedge was sent (two attempts, one hedge) and answered from the cache, as the first was.
    expect(await answer).toEqual({ status: 200, body: 'stored', hedged: false, attempts: 2, timeouts: 0, hedges: 1 })
    expect(scenario.seen, 'the upstream saw the plain fetch alone').toEqual([FIRST])
    expect(errors).toEqual([])
  })
})
