/**
 * The deployable proxy in workerd, asked by a page on another origin in headless Chromium, with its cookies: once the
 * upstream fails, the page reads the proxy's 503 and its Retry-After (the browser hid them, a network error, before
 * the proxy's own answers carried what the upstream grants the page), also for a request that needs a preflight, and a
 * last-known-good copy says it is one. With the default METHODS (no OPTIONS), that preflight reaches the upstream too.
 */
import { createServer, type Server } from 'node:http'
import { resolve } from 'node:path'
import type { Miniflare } from 'miniflare'
import type { Browser } from 'playwright-core'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { closeServer, launchChromium, listen, openPage } from './harness.js'
import { bundleWorker, type WorkerBundle } from './workerd-harness.js'

let browser: Browser
let page: Server
let upstream: Server
let bundle: WorkerBundle
let miniflare: Miniflare
let pageOrigin: string
let proxyOrigin: string
const down = new Set<string>()

beforeAll(async () => {
  page = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>app</title>'))
  pageOrigin = `http://127.0.0.1:${await listen(page)}`
  // An API that lets the page's origin read it, with credentials; a path in `down` answers 502, as a failing API does.
  upstream = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://127.0.0.1').pathname
    if (down.has(path)) return void res.writeHead(502).end('down')
    const grant = req.headers.origin === pageOrigin ? { 'access-control-allow-origin': pageOrigin, 'access-control-allow-credentials': 'true', vary: 'Origin' } : {}
    // Its preflights allow an Authorization header, and are not to be cached: each request is preflighted.
    if (req.method === 'OPTIONS') return void res.writeHead(204, { ...grant, 'access-control-allow-methods': 'GET', 'access-control-allow-headers': 'authorization', 'access-control-max-age': '0' }).end()
    res.writeHead(200, { 'content-type': 'application/json', ...grant }).end(JSON.stringify({ path }))
  })
  const base = `http://127.0.0.1:${await listen(upstream)}/base`
  // OPTIONS listed, so that any OPTIONS reaches the upstream; /plain/ is a proxy with the default METHODS (GET, HEAD).
  const vars = { UPSTREAM_URL: base, METHODS: 'GET,HEAD,OPTIONS' }
  const plain = { ROUTES: JSON.stringify({ '/plain/': base }) }
  bundle = await bundleWorker(
    `import proxy from ${JSON.stringify(resolve(import.meta.dirname, '../../src/worker/index.ts'))}
const env = ${JSON.stringify(vars)}
const plain = ${JSON.stringify(plain)}
export default { fetch: (request, _env, ctx) => proxy.fetch(request, new URL(request.url).pathname.startsWith('/plain/') ? plain : env, ctx) }`,
    'proxy-cors',
  )
  miniflare = await bundle.start()
  proxyOrigin = new URL(await miniflare.ready).origin
  browser = await launchChromium()
})

afterAll(async () => {
  await browser?.close()
  await miniflare?.dispose()
  await bundle?.remove()
  if (upstream) await closeServer(upstream)
  if (page) await closeServer(page)
})

it("a page on another origin reads the proxy's 503 and Retry-After (after a preflight too), and a copy's X-Resilient-Source", async () => {
  const { context, page: tab } = await openPage(browser)
  try {
    await tab.goto(`${pageOrigin}/`)
    const ask = (path: string, headers: Record<string, string> = {}) =>
      tab.evaluate(async ([url, headers]) => {
        try {
          const response = await fetch(url, { credentials: 'include', headers })
          return { status: response.status, retryAfter: response.headers.get('retry-after'), source: response.headers.get('x-resilient-source') }
        } catch (error) {
          return { error: String(error) }
        }
      }, [`${proxyOrigin}/api${path}`, headers] as const)
    expect(await ask('/item')).toEqual({ status: 200, retryAfter: null, source: null })
    down.add('/base/item').add('/base/never')
    expect(await ask('/item')).toEqual({ status: 200, retryAfter: null, source: 'fallback' })
    expect(await ask('/never')).toEqual({ status: 503, retryAfter: '1', source: null })
    // A request that needs a preflight (an Authorization header): while the upstream fails, the preflight is answered
    // as the upstream last did, and the request reads the 503.
    const authorized = { authorization: 'Bearer page-user' }
    expect(await ask('/private', authorized)).toEqual({ status: 200, retryAfter: null, source: null })
    down.add('/base/private')
    expect(await ask('/private', authorized)).toEqual({ status: 503, retryAfter: '1', source: null })
  } finally {
    await context.close()
  }
})

it('a page on another origin reads the upstream through a proxy with the default METHODS, after a preflight (Authorization)', async () => {
  const { context, page: tab } = await openPage(browser)
  try {
    await tab.goto(`${pageOrigin}/`)
    const ask = (path: string) =>
      tab.evaluate(async (url) => {
        try {
          const response = await fetch(url, { credentials: 'include', headers: { authorization: 'Bearer page-user' } })
          return { status: response.status, body: await response.text() }
        } catch (error) {
          return { error: String(error) }
        }
      }, `${proxyOrigin}/plain${path}`)
    expect(await ask('/account')).toEqual({ status: 200, body: JSON.stringify({ path: '/base/account' }) })
    // While the upstream fails, its last good answer to the preflight clears the request, which reads the 503.
    down.add('/base/account')
    expect(await ask('/account')).toMatchObject({ status: 503, body: expect.stringContaining('"error":"upstream_error"') })
  } finally {
    await context.close()
  }
})
