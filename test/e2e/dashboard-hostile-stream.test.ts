/**
 * The dashboard's Worker view in headless Chromium, following a hostile event stream: `?events=<url>#worker` connects to
 * whatever URL a link names, so an attacker's stream (CORS open, on another origin) feeds the page on the proxy's origin.
 * Its breaker states and keys must stay text: no element or handler of theirs, no script run. And the page's own
 * Content-Security-Policy refuses inline script, should some later sink let markup through.
 */
import { createServer, type Server, type ServerResponse } from 'node:http'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Browser } from 'playwright-core'
import { afterAll, beforeAll, expect, test } from 'vitest'
import { buildDemo } from '../../scripts/build-demo.mjs'
import { closeServer, launchChromium, listen, openPage, serveDirectory, type StaticServer } from './harness'

const root = fileURLToPath(new URL('../..', import.meta.url))
const PAYLOAD = 'x"><img src=x onerror="window.__pwned=1">'
const KEY = 'https://evil.example/<img src=x onerror="window.__pwned=2">'

let browser: Browser
let site: StaticServer
let hostile: Server
let hostileUrl: string
const streams: ServerResponse[] = []

/** One snapshot of a breaker in `state`, as /events sends it. */
function snapshot(state: string): string {
  const breaker = { key: KEY, state, calls: 4, failures: 2, slowCalls: 0, failureRate: 0.5, rejected: 0, transitions: 1 }
  const totals = { requests: 4, successes: 2, failures: 2, rejected: 0, timeouts: 0, retries: 0, fallbacks: 0, hedges: 0, throttled: 0, coalesced: 0 }
  return `event: snapshot\ndata: ${JSON.stringify({ at: Date.now(), breakers: [breaker], bulkheads: [], totals, latencies: [] })}\n\n`
}

beforeAll(async () => {
  await buildDemo()
  hostile = createServer((req, res) => {
    // EventSource across origins needs CORS; an attacker's server grants it.
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', 'access-control-allow-origin': '*' })
    res.write(snapshot(PAYLOAD))
    res.write(`event: statechange\ndata: ${JSON.stringify({ key: KEY, from: PAYLOAD, to: PAYLOAD, at: Date.now() })}\n\n`)
    res.write(snapshot('open'))
    streams.push(res)
  })
  hostileUrl = `http://127.0.0.1:${await listen(hostile)}/events`
  ;[browser, site] = await Promise.all([launchChromium(), serveDirectory(join(root, 'demo/dist'))])
})

afterAll(async () => {
  await browser?.close()
  await site?.close()
  for (const res of streams) res.destroy()
  if (hostile) await closeServer(hostile)
})

test('a stream a link names draws its states and keys as text: no element, handler or script of its own', async () => {
  const { context, page } = await openPage(browser)
  try {
    await page.goto(`${site.url}/?events=${encodeURIComponent(hostileUrl)}#worker`)
    const card = page.locator('#worker [data-breaker-key]')
    await expect.poll(() => card.count(), { timeout: 10_000 }).toBe(1)
    expect(await card.getAttribute('data-breaker-key')).toBe(KEY)
    // Its history has both states by the time the 'open' band is drawn.
    await expect.poll(() => page.locator('#worker .spark rect.band-open').count(), { timeout: 10_000 }).toBe(1)
    const injected = await page.$$eval('#worker *', (elements) =>
      elements.filter((element) => element.tagName === 'IMG' || [...element.attributes].some((attribute) => /^on/i.test(attribute.name))).map((element) => element.outerHTML),
    )
    expect(injected).toEqual([])
    expect(await page.evaluate(() => (window as { __pwned?: number }).__pwned)).toBeUndefined()
  } finally {
    await context.close()
  }
})

test('the page refuses inline script by its Content-Security-Policy, and still connects to a stream on another origin', async () => {
  const { context, page } = await openPage(browser)
  try {
    await page.goto(`${site.url}/?events=${encodeURIComponent(hostileUrl)}#worker`)
    await expect.poll(() => page.locator('#worker [data-role="status"]').getAttribute('data-status'), { timeout: 10_000 }).toBe('connected')
    await page.evaluate(() => {
      const seen = window as { __violation?: string }
      document.addEventListener('securitypolicyviolation', (event) => (seen.__violation = event.effectiveDirective), { once: true })
      const holder = document.createElement('div')
      holder.innerHTML = '<img src="data:," onerror="window.__ran = true">'
      document.body.append(holder)
    })
    const outcome = () => page.evaluate(() => ({ violation: (window as { __violation?: string }).__violation, ran: (window as { __ran?: boolean }).__ran === true }))
    await expect.poll(outcome, { timeout: 5_000 }).toEqual({ violation: 'script-src-attr', ran: false })
  } finally {
    await context.close()
  }
})
