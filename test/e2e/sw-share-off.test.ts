/**
 * README "In a Service Worker": with the main entry still loading chunks there, "a hedge, throttle or coalesce option
 * that could not load is off (calls go on without it), which the console says once per instance (`resilient-fetch:
 * hedge is off: …`); so is the breaker's side of a `BreakerShare` of your own (`resilient-fetch: share is off: …`),
 * which the Service Worker entry brings." Headless Chromium, the module Service Worker of test/e2e/sw-share (a share of
 * its own that records connect and publish; one failure opens the breaker) against an upstream on another origin
 * (127.0.0.1), built code-split on the Service Worker entry and on the main entry: the first connects the share and
 * publishes the breaker's opening to it, saying nothing; the second never connects it, says once that the share is off,
 * and its breaker works on its own (opened by the failure, it refuses the next call without a request).
 */
import { join } from 'node:path'
import type { Page } from 'playwright-core'
import { describe, expect, it } from 'vitest'
import { bundleOnBothEntries, CORS, createUpstream, FIX, pollUntil, swSuite } from './sw-harness.js'

const WORKER = join(import.meta.dirname, 'sw-share/sw.ts')

/** The upstream: 503 while failing, else 200; counts what reached it. */
const upstream = createUpstream((_req, res) => void res.writeHead(200, { ...CORS, 'content-type': 'text/plain' }).end('up'))
const { controlledPage, get, ask } = swSuite(upstream, { prefix: 'rf-sw-share-', bundle: (dir) => bundleOnBothEntries(WORKER, dir) })

interface State {
  warnings: string[]
  connected: number
  published: string[]
}
const state = (page: Page) => ask<State>(page, 'state')

/** A good call, a 503 (which opens the breaker), then a call the open breaker refuses without a request. */
async function openTheBreaker(page: Page): Promise<void> {
  expect(await get(page, '/share/a')).toMatchObject({ status: 200, body: 'up' })
  upstream.failing = true
  expect(await get(page, '/share/a')).toMatchObject({ status: 503, body: 'down' })
  upstream.failing = false
  const refused = await get(page, '/share/a')
  expect(refused).toMatchObject({ status: 504 })
  expect(JSON.parse(refused.body)).toMatchObject({ name: 'CircuitOpenError' })
  expect(Object.fromEntries(upstream.hits)).toEqual({ '/share/a': 2 })
}

describe("a BreakerShare of one's own in a module Service Worker", () => {
  it('on the code-split Service Worker entry: the share is connected and told of the opening; nothing is off', async () => {
    const { page } = await controlledPage('sw-entry.js', 'module')
    await openTheBreaker(page)
    expect(await state(page)).toEqual({ warnings: [], connected: 1, published: [`${upstream.origin} open`] })
  })

  it("on the main entry code-split (import() refused): the share is off, said once on the console; the breaker works on its own", async () => {
    const { page } = await controlledPage('sw-main.js', 'module')
    await openTheBreaker(page)
    await pollUntil(async () => (await state(page)).warnings.length > 0)
    expect((await state(page)).warnings).toEqual([`resilient-fetch: share is off: ${FIX}`])
    expect(await get(page, '/share/a')).toMatchObject({ status: 504 })
    expect(await state(page)).toEqual({ warnings: [`resilient-fetch: share is off: ${FIX}`], connected: 0, published: [] })
  })
})
