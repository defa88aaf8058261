/**
 * A failed call waits for the fallback only as long as its total deadline and its abort allow, whatever the fallback's
 * chunk does (here it never loads) or a copy taken before the chunk loaded does (an endless stream).
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { normalizeFallback, type NormalizedFallback } from '../../src/options.js'
import type { Next, Outcome } from '../../src/stages/types.js'
import { fakeClock, ok, testCall, testRuntime } from './helpers.js'

beforeEach(() => void vi.useFakeTimers())
afterEach(() => {
  vi.useRealTimers()
  vi.doUnmock('../../src/fallback.js')
  vi.resetModules()
})

async function stageWith(chunk: 'hangs' | 'loads') {
  vi.resetModules()
  // A chunk that never arrives (a stalled network while the app loads it).
  if (chunk === 'hangs') vi.doMock('../../src/fallback.js', () => new Promise(() => {}))
  const { fallbackStage } = await import('../../src/stages/fallback.js')
  const clock = fakeClock(1_000_000)
  const t = testRuntime(clock.now)
  const stage = fallbackStage(normalizeFallback({ store: 'memory' }) as NormalizedFallback, t.runtime)!
  return { ...t, clock, stage }
}

const next = (outcome: Outcome) => vi.fn<Next>(async () => outcome)
/** Whether `p` has settled once the fake timers moved `ms` (and every promise they released ran). */
async function settledAfter(p: Promise<unknown>, ms: number): Promise<boolean> {
  let settled = false
  p.then(() => (settled = true), () => (settled = true))
  await vi.advanceTimersByTimeAsync(ms)
  return settled
}

describe('a failed call and the fallback it waits for', () => {
  it('ends at its total deadline while the chunk has not loaded: the failure stands, a storeerror says why', async () => {
    const { stage, clock, seen } = await stageWith('hangs')
    const failed = ok(503)
    const answer = stage.run(testCall({ deadline: clock.now() + 600 }), next(failed), undefined)
    expect(await settledAfter(answer, 599)).toBe(false)
    expect(await settledAfter(answer, 1)).toBe(true)
    expect(await answer).toBe(failed)
    expect(seen.filter((e) => e.type === 'storeerror')).toHaveLength(1)
  })

  it('a failure at its total deadline still waits READ_GRACE (100 ms) for the chunk, no longer', async () => {
    const { stage, clock } = await stageWith('hangs')
    const failed = ok(503)
    const answer = stage.run(testCall({ deadline: clock.now() }), next(failed), undefined)
    expect(await settledAfter(answer, 99)).toBe(false)
    expect(await settledAfter(answer, 1)).toBe(true)
  })

  it('ends on its abort while the chunk has not loaded, as the abort, with no storeerror', async () => {
    const { stage, seen } = await stageWith('hangs')
    const controller = new AbortController()
    const answer = stage.run(testCall({ signal: controller.signal }), next(ok(503)), undefined)
    expect(await settledAfter(answer, 1_000)).toBe(false)
    controller.abort(new Error('user gave up'))
    expect(await settledAfter(answer, 0)).toBe(true)
    expect(await answer).toMatchObject({ kind: 'aborted', reason: new Error('user gave up') })
    expect(seen.filter((e) => e.type === 'storeerror')).toHaveLength(0)
  })

  it('ends while the first copy, an endless stream that arrived before the chunk loaded, is still being read', async () => {
    const { stage, clock } = await stageWith('loads')
    // Taken before the chunk loaded (the stage was made just now); its body never ends (a live feed).
    const feed = new Response(new ReadableStream({ pull: () => new Promise<void>(() => {}) }), { headers: { 'content-type': 'application/x-ndjson' } })
    const good: Outcome = { kind: 'response', response: feed, failure: false, duration: 1 }
    expect(await stage.run(testCall(), next(good), undefined)).toBe(good)
    const failed = ok(503)
    const other = stage.run(testCall({ url: 'https://a.test/other', input: 'https://a.test/other', deadline: clock.now() + 600 }), next(failed), undefined)
    expect(await settledAfter(other, 600)).toBe(true)
    expect(await other).toBe(failed)
    const controller = new AbortController()
    const aborted = stage.run(testCall({ signal: controller.signal }), next(ok(503)), undefined)
    controller.abort(new Error('user gave up'))
    expect(await settledAfter(aborted, 0)).toBe(true)
  })
})
