/** The fallback stage alone: what its storeerror says, which spellings of a URL share one copy, and another instance's clear(). */
import { afterEach, describe, expect, it, vi } from 'vitest'
import { normalizeFallback, type NormalizedFallback } from '../src/options.js'
import type { Next, Outcome } from '../src/stages/types.js'
import { fallbackStage } from '../src/stages/fallback.js'
import { preloaded } from '../src/preloaded.js'
import { fakeClock, ok, testCall, testRuntime } from './stages/helpers.js'
import { fakeCaches } from './store/fake-caches.js'

afterEach(() => {
  vi.unstubAllGlobals()
  delete preloaded.fallback
})

const next = (outcome: Outcome) => vi.fn<Next>(async () => outcome)

function stage(chunk: 'fails' | 'loads') {
  // A chunk that will not load (a Service Worker that refuses import()), as the stage sees it: its loading rejects.
  if (chunk === 'fails') preloaded.fallback = { stageFallback: () => { throw new Error('chunk refused') } } as unknown as typeof preloaded.fallback
  const t = testRuntime(fakeClock(1_000_000).now)
  return { ...t, stage: fallbackStage(normalizeFallback({ store: 'memory' }) as NormalizedFallback, t.runtime)! }
}

describe('fallback stage', () => {
  it("a chunk that will not load leaves the failure standing, and its storeerror names the call's key and the error", async () => {
    const { stage: fallback, seen } = stage('fails')
    const failed = ok(503)
    expect(await fallback.run(testCall({ key: 'https://b.test' }), next(failed), undefined)).toBe(failed)
    const errors = seen.filter((e) => e.type === 'storeerror')
    expect(errors).toHaveLength(1)
    expect(errors[0]!.detail).toEqual({ key: 'https://b.test', error: expect.any(Error) })
  })

  it('two spellings of one URL (a dot segment, an upper-case host) share one copy', async () => {
    const { stage: fallback } = stage('loads')
    const background: Promise<unknown>[] = []
    const waitUntil = (p: Promise<unknown>) => void background.push(p)
    const spelled = 'https://A.TEST/./x'
    await fallback.run(testCall({ url: spelled, input: spelled, waitUntil }), next(ok(200)), undefined)
    for (let seen = -1; seen !== background.length; ) {
      seen = background.length
      await Promise.all(background)
    }
    const outcome = await fallback.run(testCall({ waitUntil }), next(ok(503)), undefined)
    expect(outcome).toMatchObject({ kind: 'response', failure: true })
    expect(await (outcome as { response: Response }).response.text()).toBe('s200')
  })

  it("a good response to a call that started before another instance's clear() of the 'auto' store is never kept", async () => {
    vi.stubGlobal('caches', fakeCaches().caches)
    // A browser's worker: 'auto' is then the origin's Cache API.
    vi.stubGlobal('importScripts', () => {})
    const made = () => fallbackStage(normalizeFallback({ store: 'auto' }) as NormalizedFallback, testRuntime(fakeClock(1_000_000).now).runtime)!
    const [here, loggingOut] = [made(), made()]
    // Both chunks loaded: a clear() of either reaches the other directly.
    await loggingOut.clear()
    await here.clear()
    const background: Promise<unknown>[] = []
    const waitUntil = (p: Promise<unknown>) => void background.push(p)
    let respond!: (outcome: Outcome) => void
    const inFlight = here.run(testCall({ waitUntil }), () => new Promise<Outcome>((resolve) => (respond = resolve)), undefined)
    await loggingOut.clear()
    respond(ok(200))
    await (await inFlight as { response: Response }).response.text()
    await Promise.all(background)
    const failed = ok(503)
    expect(await here.run(testCall({ waitUntil }), next(failed), undefined)).toBe(failed)
  })
})
