/**
 * The dashboard in headless Chromium: the page opens on one endpoint degrading, the simulation
 * view reacts to the error-rate control as the testability contract promises, manual controls
 * move a breaker, and the Worker view follows a real proxy (wrangler dev + the mock upstream),
 * follows the address's hash, and never shows another stream's figures as live. Writes no file:
 * the pictures in docs/ come from `npm run screenshots`.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { buildDemo } from '../../scripts/build-demo.mjs'
import { startMockUpstream } from '../../demo/mock-upstream.mjs'
import { freePort, launchChromium, openPage, serveDirectory, waitForHttp, type StaticServer } from './harness'

const root = fileURLToPath(new URL('../..', import.meta.url))
const CARDS = '#simulation [data-breaker-key]'
const ENDPOINTS = ['users', 'orders', 'search', 'payments']

let browser: Browser
let site: StaticServer

beforeAll(async () => {
  await buildDemo()
  ;[browser, site] = await Promise.all([launchChromium(), serveDirectory(join(root, 'demo/dist'))])
})

afterAll(async () => {
  await browser?.close()
  await site?.close()
})

/** Every simulation card's data-state, by key. */
function states(page: Page): Promise<Record<string, string>> {
  return page.$$eval(CARDS, (cards) => Object.fromEntries(cards.map((card) => [card.getAttribute('data-breaker-key'), card.getAttribute('data-state')])))
}

/** A figure on the page as a number; the dash shown before the first call counts as 0. */
function numberAt(page: Page, selector: string): Promise<number> {
  return page.$eval(selector, (element) => Number(element.textContent!.replace(/[,—]/g, '')))
}

function callsOf(page: Page, key: string): Promise<number> {
  return numberAt(page, `#simulation [data-breaker-key="${key}"] [data-stat="calls"]`)
}

function totalOf(page: Page, name: string): Promise<number> {
  return numberAt(page, `#simulation [data-total="${name}"]`)
}

describe('simulation view', () => {
  test('opens on one endpoint degrading while the others stay closed, with the global controls offered', async () => {
    const { context, page, errors } = await openPage(browser)
    try {
      await page.goto(`${site.url}/`)
      await expect.poll(() => page.locator(CARDS).count()).toBe(ENDPOINTS.length)
      expect(await page.locator('input[name="scene"][value="degraded"]').isChecked()).toBe(true)
      await expect.poll(async () => (await states(page)).payments, { timeout: 15_000 }).not.toBe('closed')
      const { payments, ...others } = await states(page)
      expect(Object.values(others)).toEqual(['closed', 'closed', 'closed'])
      // The scene says what to watch; the all-endpoints controls are there and say the endpoints differ.
      await expect(page.locator('[data-role="scene-description"]').textContent()).resolves.toMatch(/payments .* stay closed/)
      expect(await page.locator('output[for="all-error-rate"]').textContent()).toBe('mixed')
      for (const label of ['Error rate', 'Latency', 'Slow answers', 'Request rate']) expect(await page.getByLabel(label, { exact: true }).isVisible()).toBe(true)
      // Each card says what window its failure figure covers.
      expect(await page.locator(`${CARDS} dt`, { hasText: 'Failed, last 10 s' }).count()).toBe(ENDPOINTS.length)

      // Another scene, then the global slider: every endpoint follows it.
      await page.locator('label.scene', { hasText: 'All healthy' }).click()
      expect(await page.locator('output[for="all-error-rate"]').textContent()).toBe('0 %')
      await page.locator('[data-control="error-rate"]').fill('40')
      expect(await page.locator('input[name="scene"]:checked').count()).toBe(0)
      expect(await page.locator('[data-control="endpoint-error-rate"]').evaluateAll((inputs) => inputs.map((i) => (i as HTMLInputElement).value))).toEqual(['40', '40', '40', '40'])
      expect(errors).toEqual([])
    } finally {
      await context.close()
    }
  })

  test('a breaker opens at error rate 100 and all close again at 0, with no console errors', async () => {
    const { context, page, errors } = await openPage(browser)
    try {
      await page.goto(`${site.url}/?scene=healthy`)
      await expect.poll(() => page.locator(CARDS).count()).toBe(ENDPOINTS.length)
      expect(Object.keys(await states(page)).sort()).toEqual([...ENDPOINTS].sort())
      const control = page.locator('input[type="range"][data-control="error-rate"]')
      expect(await control.getAttribute('min')).toBe('0')
      expect(await control.getAttribute('max')).toBe('100')

      // Live without reload: the counters move on their own.
      const before = await callsOf(page, 'users')
      await expect.poll(() => callsOf(page, 'users'), { timeout: 5_000 }).toBeGreaterThan(before + 3)
      expect(Object.values(await states(page))).toEqual(['closed', 'closed', 'closed', 'closed'])

      await control.fill('100')
      await page.waitForSelector(`${CARDS}[data-state="open"]`, { timeout: 15_000 })
      // Every breaker has left closed; the log says when.
      await expect.poll(async () => Object.values(await states(page)).every((s) => s !== 'closed'), { timeout: 15_000 }).toBe(true)
      await expect(page.locator('#simulation [data-role="log"] li[data-to="open"]').count()).resolves.toBeGreaterThan(0)
      await expect.poll(() => page.locator(`${CARDS}[data-state="open"] [data-role="next-probe"]`).first().textContent(), { timeout: 5_000 }).toMatch(/^next probe in \d/)
      // Let it fail fast for a moment, so the picture shows rejections and fallbacks.
      await expect.poll(() => totalOf(page, 'rejected'), { timeout: 10_000 }).toBeGreaterThanOrEqual(10)
      expect(await totalOf(page, 'fallbacks')).toBeGreaterThan(0)

      await control.fill('0')
      await page.waitForFunction(
        (selector) => [...document.querySelectorAll<HTMLElement>(selector)].every((card) => card.dataset.state === 'closed'),
        CARDS,
        { timeout: 40_000, polling: 100 },
      )
      await expect(page.locator('#simulation [data-role="log"] li[data-to="closed"]').count()).resolves.toBeGreaterThan(0)
      expect(errors).toEqual([])
    } finally {
      await context.close()
    }
  })

  test('the slow tail: p50 and p99 per endpoint, and hedging on starts hedges', async () => {
    const { context, page, errors } = await openPage(browser)
    try {
      await page.goto(`${site.url}/?scene=slow-tail`)
      const card = page.locator('#simulation [data-breaker-key="users"]')
      await expect.poll(() => card.locator('[data-stat="p50"]').textContent(), { timeout: 15_000 }).toMatch(/^\d+ ms$/)
      expect(await card.locator('[data-stat="p99"]').textContent()).toMatch(/^\d+(\.\d)? m?s$/)
      expect(await numberAt(page, '#simulation [data-total="hedges"]')).toBe(0)
      await page.getByLabel('Hedge slow attempts').check()
      await expect.poll(() => totalOf(page, 'hedges'), { timeout: 20_000 }).toBeGreaterThan(0)
      // Counted per endpoint too: the cards together hold every hedge the instance started.
      const perCard = await page.$$eval('#simulation [data-stat="hedges"]', (cells) => cells.reduce((sum, cell) => sum + Number(cell.textContent), 0))
      expect(perCard).toBeGreaterThan(0)
      expect(errors).toEqual([])
    } finally {
      await context.close()
    }
  })

  test('Open, Close and Reset move a breaker, by mouse and by keyboard', async () => {
    const { context, page, errors } = await openPage(browser)
    try {
      await page.goto(`${site.url}/?scene=healthy`)
      const card = page.locator('#simulation [data-breaker-key="orders"]')
      // The buttons act once the key has seen a call.
      await expect.poll(() => callsOf(page, 'orders')).toBeGreaterThan(0)

      await card.getByRole('button', { name: 'Open the orders breaker' }).click()
      await expect.poll(() => card.getAttribute('data-state')).toBe('forced-open')
      expect(await card.locator('[data-role="state"]').textContent()).toBe('Forced open')
      await card.getByRole('button', { name: 'Close the orders breaker' }).click()
      await expect.poll(() => card.getAttribute('data-state')).toBe('closed')

      await card.getByRole('button', { name: 'Open the orders breaker' }).focus()
      await page.keyboard.press('Enter')
      await expect.poll(() => card.getAttribute('data-state')).toBe('forced-open')
      await page.keyboard.press('Tab')
      await page.keyboard.press('Tab')
      await page.keyboard.press('Enter')
      await expect.poll(() => card.getAttribute('data-state')).toBe('closed')
      // Only orders was touched.
      expect((await states(page)).users).toBe('closed')
      expect(errors).toEqual([])
    } finally {
      await context.close()
    }
  })

  test("an endpoint's own error rate opens only its breaker", async () => {
    const { context, page, errors } = await openPage(browser)
    try {
      await page.goto(`${site.url}/?scene=healthy`)
      const card = page.locator('#simulation [data-breaker-key="search"]')
      await card.locator('summary').click()
      await card.getByLabel('Error rate of search').fill('100')
      await expect.poll(() => card.getAttribute('data-state'), { timeout: 15_000 }).toBe('open')
      const others = await states(page)
      expect([others.users, others.orders, others.payments]).toEqual(['closed', 'closed', 'closed'])
      // The all-endpoints control still reads 0: it moves every endpoint, an endpoint never moves it.
      expect(await page.locator('[data-control="error-rate"]').inputValue()).toBe('0')
      expect(errors).toEqual([])
    } finally {
      await context.close()
    }
  })

  test('fits a phone-sized screen without sideways scrolling', async () => {
    const { context, page, errors } = await openPage(browser, { viewport: { width: 390, height: 844 } })
    try {
      await page.goto(`${site.url}/`)
      await expect.poll(() => page.locator(CARDS).count()).toBe(ENDPOINTS.length)
      const { scrollWidth, clientWidth } = await page.evaluate(() => ({ scrollWidth: document.documentElement.scrollWidth, clientWidth: document.documentElement.clientWidth }))
      expect(scrollWidth).toBeLessThanOrEqual(clientWidth)
      // Each control has a label that names it.
      for (const label of ['Error rate', 'Latency', 'Slow answers', 'Request rate']) await expect(page.getByLabel(label, { exact: true }).count()).resolves.toBe(1)
      expect(errors).toEqual([])
    } finally {
      await context.close()
    }
  })
})

/** `wrangler dev` of the proxy in front of `upstreamUrl`, with `vars` over wrangler.toml's; `close()` ends its process group. */
async function startProxy(upstreamUrl: string, vars: string[]): Promise<{ url: string; close(): Promise<void> }> {
  const persist = await mkdtemp(join(tmpdir(), 'rf-dashboard-wrangler-'))
  const output: string[] = []
  const port = await freePort()
  const url = `http://127.0.0.1:${port}`
  // Without a wrangler.toml at the root, say on the command line what it would.
  const config = existsSync(join(root, 'wrangler.toml')) ? [] : ['src/worker/index.ts', '--assets', 'demo/dist', '--compatibility-date', '2025-01-01']
  const proxy: ChildProcess = spawn(
    process.execPath,
    [
      join(root, 'node_modules/wrangler/bin/wrangler.js'),
      'dev',
      ...config,
      '--ip', '127.0.0.1',
      '--port', String(port),
      '--inspector-port', String(await freePort()),
      '--persist-to', persist,
      // Whatever wrangler.toml says: this upstream only.
      '--var', `UPSTREAM_URL:${upstreamUrl}`,
      '--var', 'ROUTES:',
      ...vars.flatMap((v) => ['--var', v]),
      '--show-interactive-dev-session=false',
      '--live-reload=false',
    ],
    {
      cwd: root,
      // Its own process group, so close() ends workerd along with wrangler.
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, CLOUDFLARE_CF_FETCH_ENABLED: 'false', WRANGLER_SEND_METRICS: 'false', WRANGLER_HIDE_BANNER: 'true', NO_COLOR: '1' },
    },
  )
  proxy.stdout!.on('data', (chunk) => output.push(String(chunk)))
  proxy.stderr!.on('data', (chunk) => output.push(String(chunk)))
  const close = async (): Promise<void> => {
    if (proxy.pid !== undefined && proxy.exitCode === null) {
      const exited = new Promise((done) => proxy.once('exit', done))
      process.kill(-proxy.pid, 'SIGTERM')
      await Promise.race([exited, new Promise((done) => setTimeout(done, 5_000))])
    }
    await rm(persist, { recursive: true, force: true })
  }
  try {
    await waitForHttp(`${url}/health`, 45_000)
  } catch (error) {
    await close()
    throw new Error(`wrangler dev did not start:\n${output.join('')}`, { cause: error })
  }
  return { url, close }
}

describe('Worker view', () => {
  let upstream: { url: string; close(): Promise<void> }
  let proxy: { url: string; close(): Promise<void> } | undefined
  let proxyUrl: string

  beforeAll(async () => {
    upstream = await startMockUpstream({ port: 0 })
    // /events open to the page.
    proxy = await startProxy(upstream.url, ['METRICS_TOKEN:', 'FAILURE_THRESHOLD:3'])
    proxyUrl = proxy.url
  }, 60_000)

  afterAll(async () => {
    await proxy?.close()
    await upstream?.close()
  })

  test('shows a breaker the proxy opened, live from /events', async () => {
    const { context, page, errors } = await openPage(browser)
    try {
      // The proxy serves the page itself ([assets]), so /events is same-origin, as deployed.
      await page.goto(`${proxyUrl}/#worker`)
      await expect.poll(() => page.locator('#worker [data-role="status"]').getAttribute('data-status'), { timeout: 10_000 }).toBe('connected')
      const card = page.locator(`#worker [data-breaker-key="${upstream.url}"]`)
      // One good call creates the key; the snapshot (at least once a second) brings its card.
      expect((await fetch(`${proxyUrl}/api/data`).then(async (r) => (await r.arrayBuffer(), r.status)))).toBe(200)
      await expect.poll(() => card.getAttribute('data-state'), { timeout: 10_000 }).toBe('closed')

      await fetch(`${upstream.url}/control?error_rate=100`).then((r) => r.arrayBuffer())
      for (let i = 0; i < 5; i++) await fetch(`${proxyUrl}/api/data`).then((r) => r.arrayBuffer())
      await expect.poll(() => card.getAttribute('data-state'), { timeout: 10_000 }).toBe('open')
      await expect(page.locator(`#worker [data-role="log"] li[data-key="${upstream.url}"][data-to="open"]`).count()).resolves.toBe(1)
      await expect.poll(() => card.locator('[data-role="next-probe"]').textContent(), { timeout: 5_000 }).toMatch(/^next probe in \d/)
      // The copies it served instead of the failures, from its fallback events.
      await expect.poll(() => numberAt(page, `#worker [data-breaker-key="${upstream.url}"] [data-stat="fallbacks"]`), { timeout: 5_000 }).toBeGreaterThan(0)
      // The simulation's cards stay in their own view.
      expect(await page.locator('#simulation').isHidden()).toBe(true)

      // Disconnected: the figures stay, marked as old.
      await page.locator('#worker [data-action="disconnect"]').click()
      expect(await page.locator('#worker [data-role="status"]').textContent()).toBe('disconnected')
      await expect.poll(() => card.getAttribute('data-stale')).toBe('')
      await expect(card.locator('[data-role="stale"]').textContent()).resolves.toMatch(/^disconnected at \d/)
      expect(errors).toEqual([])
    } finally {
      await fetch(`${upstream.url}/control?error_rate=0`).then((r) => r.arrayBuffer())
      await context.close()
    }
  })

  test('HEAD on /events, /metrics and /health answers at once (a monitor probing the proxy)', async () => {
    for (const path of ['/events', '/metrics', '/health']) {
      const response = await fetch(`${proxyUrl}${path}`, { method: 'HEAD', signal: AbortSignal.timeout(5_000) })
      expect(response.status, path).toBe(200)
    }
    const events = await fetch(`${proxyUrl}/events`, { method: 'HEAD', signal: AbortSignal.timeout(5_000) })
    expect(events.headers.get('content-type')).toBe('text/event-stream; charset=utf-8')
  })

  test('follows the hash: / then /#worker in the same tab switches views, Back switches back', async () => {
    const { context, page, errors } = await openPage(browser)
    try {
      await page.goto(`${proxyUrl}/?scene=healthy`)
      await expect.poll(() => page.locator(CARDS).count()).toBe(ENDPOINTS.length)
      expect(await page.locator('#worker').isHidden()).toBe(true)
      // As a link or the address bar would: a new history entry that changes only the hash.
      await page.evaluate(() => (location.hash = '#worker'))
      await expect.poll(() => page.locator('#worker').isVisible()).toBe(true)
      expect(await page.locator('#simulation').isHidden()).toBe(true)
      expect(await page.locator('#tab-worker').getAttribute('aria-selected')).toBe('true')
      await expect.poll(() => page.locator('#worker [data-role="status"]').getAttribute('data-status'), { timeout: 10_000 }).toBe('connected')
      await page.goBack()
      await expect.poll(() => page.locator('#simulation').isVisible()).toBe(true)
      expect(await page.locator('#tab-simulation').getAttribute('aria-selected')).toBe('true')
      expect(errors).toEqual([])
    } finally {
      await context.close()
    }
  })

  test("a URL that does not connect clears the previous proxy's cards and says the connection failed", async () => {
    const { context, page, errors } = await openPage(browser)
    try {
      await page.goto(`${proxyUrl}/#worker`)
      expect((await fetch(`${proxyUrl}/api/data`).then(async (r) => (await r.arrayBuffer(), r.status)))).toBe(200)
      const cards = page.locator('#worker [data-breaker-key]')
      await expect.poll(() => cards.count(), { timeout: 10_000 }).toBe(1)

      const nowhere = `http://127.0.0.1:${await freePort()}/events`
      await page.locator('#worker [data-control="events-url"]').fill(nowhere)
      await page.locator('#worker button[type="submit"]').click()
      const status = page.locator('#worker [data-role="status"]')
      await expect.poll(() => status.getAttribute('data-status'), { timeout: 10_000 }).toBe('error')
      expect(await status.textContent()).toMatch(new RegExp(`^could not connect to ${nowhere.replace(/[.]/g, '\\.')}`))
      expect(await status.textContent()).not.toMatch(/lost/)
      expect(await cards.count()).toBe(0)
      expect(await page.locator('#worker [data-total="requests"]').textContent()).toBe('—')
      // The browser itself logs the refused connection; nothing else may fail.
      expect(errors.filter((error) => !error.includes('ERR_CONNECTION_REFUSED'))).toEqual([])
    } finally {
      await context.close()
    }
  })
})

describe('Worker view of a proxy with a METRICS_TOKEN', () => {
  const token = 'dashboard-test-token'
  let upstream: { url: string; close(): Promise<void> }
  let proxy: { url: string; close(): Promise<void> } | undefined

  beforeAll(async () => {
    upstream = await startMockUpstream({ port: 0 })
    proxy = await startProxy(upstream.url, [`METRICS_TOKEN:${token}`])
  }, 60_000)

  afterAll(async () => {
    await proxy?.close()
    await upstream?.close()
  })

  test('says the stream wants the token, and how to give it; with it in the URL, connects', async () => {
    const { context, page, errors } = await openPage(browser)
    try {
      await page.goto(`${proxy!.url}/#worker`)
      const status = page.locator('#worker [data-role="status"]')
      await expect.poll(() => status.textContent(), { timeout: 10_000 }).toBe(`could not connect to ${proxy!.url}/events: the proxy has a METRICS_TOKEN (401): connect to /events?token=<token>`)
      expect(await status.getAttribute('data-status')).toBe('error')

      await page.locator('#worker [data-control="events-url"]').fill('/events?token=wrong')
      await page.locator('#worker button[type="submit"]').click()
      await expect.poll(() => status.textContent(), { timeout: 10_000 }).toBe(`could not connect to ${proxy!.url}/events?token=•••: the token in the URL is not the proxy's METRICS_TOKEN (401)`)

      await page.locator('#worker [data-control="events-url"]').fill(`/events?token=${token}`)
      await page.locator('#worker button[type="submit"]').click()
      await expect.poll(() => status.getAttribute('data-status'), { timeout: 10_000 }).toBe('connected')
      // The status line is on screen: the token's value is masked there.
      expect(await status.textContent()).toBe(`connected to ${proxy!.url}/events?token=•••`)
      // The browser logs each refused stream (and our one request that asked why); nothing else may fail.
      expect(errors.filter((error) => !/status of 401/.test(error))).toEqual([])
    } finally {
      await context.close()
    }
  })
})
