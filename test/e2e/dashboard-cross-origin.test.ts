/**
 * The dashboard's Worker view pointed at a proxy on another origin (typed in, or `?events=`): a proxy's /events
 * sends no CORS header, so the browser refuses the stream. The view must say so, and where the stream can be
 * followed (the proxy serves the dashboard itself), not that the URL answered something else than an event stream.
 */
import { createServer, type Server, type ServerResponse } from 'node:http'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Browser } from 'playwright-core'
import { afterAll, beforeAll, expect, test } from 'vitest'
import { buildDemo } from '../../scripts/build-demo.mjs'
import { closeServer, launchChromium, listen, openPage, serveDirectory, type StaticServer } from './harness'

const root = fileURLToPath(new URL('../..', import.meta.url))

let browser: Browser
let site: StaticServer
let proxy: Server
let proxyOrigin: string
const streams: ServerResponse[] = []

beforeAll(async () => {
  await buildDemo()
  // An /events as the proxy answers it: an event stream, without Access-Control-Allow-Origin.
  proxy = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store' })
    res.write('event: snapshot\ndata: {"at":0,"breakers":[],"bulkheads":[],"totals":{},"latencies":[]}\n\n')
    streams.push(res)
  })
  proxyOrigin = `http://127.0.0.1:${await listen(proxy)}`
  ;[browser, site] = await Promise.all([launchChromium(), serveDirectory(join(root, 'demo/dist'))])
})

afterAll(async () => {
  await browser?.close()
  await site?.close()
  for (const res of streams) res.destroy()
  if (proxy) await closeServer(proxy)
})

test("another origin's /events: the view says the browser refused it (CORS) and where to open the dashboard instead", async () => {
  const { context, page } = await openPage(browser)
  try {
    const events = `${proxyOrigin}/events`
    await page.goto(`${site.url}/?events=${encodeURIComponent(events)}#worker`)
    const status = page.locator('#worker [data-role="status"]')
    await expect
      .poll(() => status.textContent(), { timeout: 10_000 })
      .toBe(`could not connect to ${events}: another origin, which does not let this page read it (CORS); open ${proxyOrigin}/#worker, where the proxy serves this dashboard`)
    expect(await status.getAttribute('data-status')).toBe('error')
  } finally {
    await context.close()
  }
})
