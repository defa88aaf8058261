/**
 * shareAcrossTabs in real headless Chromium: two pages of one origin (one browser context, so one
 * localStorage, one BroadcastChannel namespace, one lock manager), each with its own instance and a stub
 * transport the test drives through window.tab.
 */
import { rm } from 'node:fs/promises'
import { join } from 'node:path'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { bundlePage, launchChromium, openPage, serveDirectory, type StaticServer } from './harness.js'

const PAGE_DIR = join(import.meta.dirname, 'share-page')
/** The open duration the pages use, ms: long enough for the test to look, short enough to wait out. */
const OPEN_MS = 1500

let dir: string
let server: StaticServer
let browser: Browser
const contexts: BrowserContext[] = []

beforeAll(async () => {
  dir = await bundlePage(PAGE_DIR, 'rf-share-tabs-')
  server = await serveDirectory(dir)
  browser = await launchChromium()
})

afterEach(async () => {
  await Promise.all(contexts.splice(0).map((context) => context.close()))
})

afterAll(async () => {
  await browser?.close()
  await server?.close()
  if (dir) await rm(dir, { recursive: true, force: true })
})

/** Two tabs of one origin in a fresh context (fresh localStorage). */
async function twoTabs(query: string): Promise<{ a: Page; b: Page; errors: string[] }> {
  const { context, page: a, errors } = await openPage(browser)
  contexts.push(context)
  const b = await context.newPage()
  b.on('pageerror', (error) => errors.push(`pageerror: ${error.message}`))
  await Promise.all([load(a, query), load(b, query)])
  return { a, b, errors }
}

/** `query`: extra page options, or undefined to reload the page as it is. */
async function load(page: Page, query: string | undefined): Promise<void> {
  if (query === undefined) await page.reload()
  else await page.goto(`${server.url}/?threshold=3&open=${OPEN_MS}${query}`)
  await page.waitForFunction(() => document.documentElement.dataset.ready === 'true')
}

/** A's upstream fails until its breaker opens; resolves when B has heard it, or fails after a second. */
async function openInA(a: Page, b: Page): Promise<void> {
  expect(await a.evaluate(async () => [await window.tab.call(), await window.tab.call(), await window.tab.call()])).toEqual([500, 500, 500])
  expect(await a.evaluate(() => window.tab.state())).toBe('open')
  await b.waitForFunction(() => window.tab.state() === 'open', undefined, { polling: 10, timeout: 1_000 })
}

describe.each([
  ['BroadcastChannel and Web Locks', ''],
  ['storage events, no BroadcastChannel', '&broadcast=off'],
])('shareAcrossTabs in Chromium over %s', (_, query) => {
  it('failures in one tab open the breaker in the other; a reload of the other stays open', async () => {
    const { a, b, errors } = await twoTabs(query)
    await openInA(a, b)
    expect(await b.evaluate(() => window.tab.call())).toBe('CircuitOpenError')
    expect(await b.evaluate(() => window.tab.transport.calls)).toBe(0)
    expect(JSON.parse((await b.evaluate(() => window.tab.stored()))!)).toMatchObject({ state: 'open' })

    await load(b, undefined)
    // A fresh instance that has heard nothing since the reload: only the persisted state can refuse this call.
    expect(await b.evaluate(() => window.tab.call())).toBe('CircuitOpenError')
    expect(await b.evaluate(() => [window.tab.transport.calls, window.tab.state()])).toEqual([0, 'open'])
    expect(errors).toEqual([])
  })
})

describe.each([
  ['Web Locks', ''],
  ['a claim in storage and on the channel (no Web Locks)', '&locks=off'],
  ['a claim in storage alone (no Web Locks, no BroadcastChannel)', '&locks=off&broadcast=off'],
])('one probe across tabs in Chromium with %s', (_, query) => {
  it('when the open window passes, one probe crosses both tabs and its success closes both', async () => {
    const { a, b, errors } = await twoTabs(query)
    await openInA(a, b)
    const nextProbeAt = (await b.evaluate(() => window.tab.nextProbeAt()))!
    expect(nextProbeAt).toBe(await a.evaluate(() => window.tab.nextProbeAt()))
    for (const page of [a, b]) {
      await page.evaluate(() => {
        window.tab.transport.hold = true
        window.tab.transport.calls = 0
      })
    }
    await a.waitForFunction((at) => Date.now() >= at, nextProbeAt, { polling: 50, timeout: OPEN_MS + 5_000 })

    // Three calls in each tab at once: one probe may cross, the five others are refused.
    await Promise.all([a.evaluate(() => window.tab.fire(3)), b.evaluate(() => window.tab.fire(3))])
    // Every call either settled (refused) or waits in a transport; a claim may still be settling before that.
    const accounted = async () => {
      const [x, y] = await Promise.all([a, b].map((page) => page.evaluate(() => window.tab.results.length + window.tab.transport.held.length)))
      return x! + y!
    }
    await expect.poll(accounted, { interval: 20, timeout: 5_000 }).toBe(6)
    const calls = [await a.evaluate(() => window.tab.transport.calls), await b.evaluate(() => window.tab.transport.calls)]
    expect(calls[0]! + calls[1]!).toBe(1)
    const prober = calls[0] === 1 ? a : b
    const other = prober === a ? b : a
    await prober.evaluate(() => window.tab.release(200))
    await other.waitForFunction(() => window.tab.state() === 'closed', undefined, { polling: 10, timeout: 5_000 })
    expect(await prober.evaluate(() => window.tab.state())).toBe('closed')
    const outcomes = [...(await a.evaluate(() => window.tab.results)), ...(await b.evaluate(() => window.tab.results))]
    expect(outcomes.sort()).toEqual([200, 'CircuitOpenError', 'CircuitOpenError', 'CircuitOpenError', 'CircuitOpenError', 'CircuitOpenError'])
    // localStorage reaches other renderers a little after the channel's message does.
    await expect.poll(() => other.evaluate(() => window.tab.stored()), { interval: 20, timeout: 5_000 }).toBeNull()

    // And a reload after the close starts closed.
    await load(other, undefined)
    await other.evaluate(() => {
      window.tab.transport.status = 200
    })
    expect(await other.evaluate(() => window.tab.call())).toBe(200)
    expect(errors).toEqual([])
  })
})

describe.each([
  ['a claim in storage and on the channel (no Web Locks)', '&locks=off'],
  ['a claim in storage alone (no Web Locks, no BroadcastChannel)', '&locks=off&broadcast=off'],
  ['a claim on the channel alone (no Web Locks, no localStorage)', '&locks=off&storage=off'],
])('tabs that claim a probe at the same instant in Chromium, with %s', (_, query) => {
  it('three tabs: exactly one wins, episode after episode', async () => {
    const { context, page: a, errors } = await openPage(browser)
    contexts.push(context)
    const pages = [a, await context.newPage(), await context.newPage()]
    await Promise.all(pages.map((page) => load(page, query)))
    const episodes = 10
    for (let i = 0; i < episodes; i++) {
      const key = `https://episode-${i}.test`
      // Far enough ahead that every tab has its timer set; the tabs share the machine's clock.
      const at = Date.now() + 200
      await Promise.all(pages.map((page) => page.evaluate(([k, t]) => window.tab.claimAt(k, t, 10_000), [key, at] as const)))
      const outcomes = async () => (await Promise.all(pages.map((page) => page.evaluate((k) => window.tab.claims.filter((c) => c.key === k).map((c) => c.won), key)))).flat()
      await expect.poll(async () => (await outcomes()).length, { interval: 20, timeout: 5_000 }).toBe(3)
      expect((await outcomes()).filter(Boolean), `winners in episode ${i}`).toHaveLength(1)
    }
    expect(errors).toEqual([])
  })
})
