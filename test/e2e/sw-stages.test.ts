/**
 * README "In a Service Worker": the main entry "loads the fallback, its stores and the hedge, throttle and coalesce
 * stages as chunks with `import()`", which a Service Worker refuses; `resilient-fetch/service-worker` has "every chunk
 * loaded up front". Headless Chromium, the module Service Worker of test/e2e/sw-stages (no retry, no breaker, Math.random
 * fixed at 0.1) against an upstream on another origin (127.0.0.1), built code-split twice:
 *
 * - on the Service Worker entry: throttling acts there as "Adaptive throttling" says: once failures raise the
 *   probability, an attempt is shed locally (nothing reaches the upstream), "rejects with `ThrottledError` (`key`,
 *   `probability`), is not retried, and is answered by a fallback copy when one exists"; nothing says a stage is off.
 *   (Its hedge and coalesce stages there are tested in service-worker.test.ts, 'hedges and coalesces in the Service Worker'.)
 * - on the main entry: "If it still loads chunks, nothing is stored: each call's `storeerror` carries `TypeError:
 *   Service Workers refuse import(): use 'resilient-fetch/service-worker'`, and a hedge, throttle or coalesce option
 *   that could not load is off (calls go on without it), which the console says once per instance (`resilient-fetch:
 *   hedge is off: …`)". service-worker.test.ts checks the storeerror message, and coalescing off; here, one storeerror
 *   per call, throttling off (failures go on reaching the upstream), hedging off (a hung first attempt gets no second
 *   request: the call ends at its attempt deadline), and one console line per instance and stage, however many calls.
 */
import { join } from 'node:path'
import type { Page } from 'playwright-core'
import { describe, expect, it } from 'vitest'
import { answerHit, bundleOnBothEntries, createUpstream, FIX, pollUntil, swSuite } from './sw-harness.js'

const WORKER = join(import.meta.dirname, 'sw-stages/sw.ts')

/** The upstream: what reached it, by path. the first request to `/hedge/slow` never answers (its closing is counted). */
const upstream = Object.assign(
  createUpstream((req, res, path, hit) => {
    if (path === '/hedge/slow' && hit === 1) return void req.socket.once('close', () => upstream.hangClosed++)
    answerHit(res, path, hit)
  }),
  { hangClosed: 0 },
)
const { controlledPage, get, ask, stored } = swSuite(upstream, { prefix: 'rf-sw-stages-', bundle: (dir) => bundleOnBothEntries(WORKER, dir), reset: () => void (upstream.hangClosed = 0) })

interface Totals {
  requests: number
  hedges: number
  throttled: number
  fallbacks: number
}
interface State {
  warnings: string[]
  events: string[]
  totals: Record<'hedged' | 'throttled' | 'coalesced' | 'twin', Totals>
}
const state = (page: Page) => ask<State>(page, 'state')

describe('in a module Service Worker on the code-split Service Worker entry (chunks)', () => {
  it('throttling acts: after failures an attempt is shed locally (no request), answered by the copy where one exists, else rejected with ThrottledError; nothing is off', async () => {
    const { page } = await controlledPage('sw-entry.js', 'module')
    const live = await get(page, '/throttle/copy')
    expect(live).toMatchObject({ status: 200, source: null, body: JSON.stringify({ path: '/throttle/copy', hit: 1 }) })
    await pollUntil(async () => (await stored(page)).length > 0)
    expect(await stored(page)).toEqual([`GET ${upstream.origin}/throttle/copy`])

    // Failures: 1 accept in 2, then in 3 requests, leave p = max(0, (requests − 2·accepts) / (requests + 1)) at 0: both reach the upstream.
    upstream.failing = true
    for (let i = 0; i < 2; i++) expect(await get(page, '/throttle/copy')).toMatchObject({ status: 200, source: 'fallback', body: live.body })
    expect(upstream.hits.get('/throttle/copy')).toBe(3)
    // 1 accept in 3 requests: p = 1/4, above Math.random's 0.1: shed here, not sent, and answered by the copy.
    expect(await get(page, '/throttle/copy')).toMatchObject({ status: 200, source: 'fallback', body: live.body })
    expect(upstream.hits.get('/throttle/copy')).toBe(3)
    // The same key (the origin), a URL with no copy: p = 2/5, shed, and the ThrottledError stands. Not retried: nothing sent.
    const shed = await get(page, '/throttle/none')
    expect(shed).toMatchObject({ status: 504, source: null })
    expect(JSON.parse(shed.body)).toMatchObject({ name: 'ThrottledError', probability: 0.4 })
    expect(upstream.hits.get('/throttle/none')).toBeUndefined()

    const { warnings, events, totals } = await state(page)
    expect(events).toEqual(['fallback', 'fallback', 'throttle', 'reject', 'fallback', 'throttle', 'reject'])
    expect(totals.throttled).toMatchObject({ requests: 5, throttled: 2, fallbacks: 3 })
    expect(warnings).toEqual([])
  })
})

describe('in a module Service Worker on the main entry code-split (chunks): import() is refused', () => {
  it('throttling is off: every failure reaches the upstream, none is shed; nothing is stored, each call has its storeerror naming the fix', async () => {
    const { page } = await controlledPage('sw-main.js', 'module')
    expect(await get(page, '/throttle/a')).toMatchObject({ status: 200, source: null, body: JSON.stringify({ path: '/throttle/a', hit: 1 }) })
    // With throttling on (above), the fourth call would be shed here: p = 1/4 by then.
    upstream.failing = true
    for (let i = 0; i < 5; i++) expect(await get(page, '/throttle/a')).toMatchObject({ status: 503, source: null, body: 'down' })
    expect(upstream.hits.get('/throttle/a')).toBe(6)
    // One storeerror a call: the good one's copy could not be written, each failure's could not be looked for.
    await pollUntil(async () => (await state(page)).events.length >= 6)
    expect((await state(page)).events.length).toBe(6)
    const { events, totals } = await state(page)
    expect(events).toEqual(Array(6).fill(`storeerror ${FIX}`))
    expect(totals.throttled).toMatchObject({ requests: 6, throttled: 0, fallbacks: 0 })
    expect(await stored(page)).toEqual([])
  })

  it('hedging is off: a hung first attempt gets no second request, the call ends at its attempt deadline; calls go on', async () => {
    const { page } = await controlledPage('sw-main.js', 'module')
    const hung = await get(page, '/hedge/slow')
    expect(hung).toMatchObject({ status: 504 })
    expect(JSON.parse(hung.body)).toMatchObject({ name: 'TimeoutError' })
    // A hedge would have gone after 300 ms, long before the 1.5 s attempt deadline: one request only.
    expect(upstream.hits.get('/hedge/slow')).toBe(1)
    await pollUntil(() => upstream.hangClosed >= 1)
    expect(upstream.hangClosed).toBe(1)
    expect(await get(page, '/hedge/slow')).toMatchObject({ status: 200, info: { hedged: false }, body: JSON.stringify({ path: '/hedge/slow', hit: 2 }) })
    expect((await state(page)).totals.hedged).toMatchObject({ requests: 2, hedges: 0 })
  })

  it('the console says each stage is off once per instance that has it on, however many calls', async () => {
    const { page } = await controlledPage('sw-main.js', 'module')
    for (const path of ['/hedge/fast', '/hedge/fast', '/throttle/b', '/throttle/b', '/coalesce/c', '/coalesce/c']) expect(await get(page, path)).toMatchObject({ status: 200 })
    // hedged, throttled and coalesced each have one of the stages on, twin all three: two lines for each stage.
    const lines = (await state(page)).warnings.sort()
    expect(lines).toEqual(['coalesce', 'coalesce', 'hedge', 'hedge', 'throttle', 'throttle'].map((name) => `resilient-fetch: ${name} is off: ${FIX}`))
  })
})
