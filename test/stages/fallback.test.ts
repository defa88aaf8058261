import { describe, expect, it, vi } from 'vitest'
import { normalizeFallback, type NormalizedFallback } from '../../src/options.js'
import { fallbackStage } from '../../src/stages/fallback.js'
import { refusal, type Next, type Outcome } from '../../src/stages/types.js'
import { CircuitOpenError } from '../../src/errors.js'
import { fakeClock, networkError, ok, testCall, testRuntime } from './helpers.js'

function setup() {
  const clock = fakeClock(1_000_000)
  const t = testRuntime(clock.now)
  const stage = fallbackStage(normalizeFallback({ store: 'memory' }) as NormalizedFallback, t.runtime)!
  const background: Promise<unknown>[] = []
  const call = (parts: Parameters<typeof testCall>[0] = {}) => testCall({ waitUntil: (p) => void background.push(p), ...parts })
  const next = (outcome: Outcome) => vi.fn<Next>(async () => outcome)
  // Waits for the background work, including what that work started in turn.
  async function stored() {
    for (let seen = -1; seen !== background.length; ) {
      seen = background.length
      await Promise.all(background)
    }
  }
  return { ...t, clock, stage, call, next, stored }
}

describe('fallback stage', () => {
  it('remembers a good 200 and answers a later failure, refusal or network error with the copy', async () => {
    const { stage, call, next, stored, clock, totals, seen } = setup()
    const good = ok(200)
    expect(await stage.run(call(), next(good), undefined)).toBe(good)
    await stored()
    clock.advance(3_000)
    for (const failed of [ok(503), networkError(), refusal('open', new CircuitOpenError('https://a.test', 1))]) {
      const outcome = await stage.run(call(), next(failed), undefined)
      expect(outcome).toMatchObject({ kind: 'response', failure: true, storedAt: 1_000_000 })
      const response = (outcome as { response: Response }).response
      expect(response.headers.get('x-resilient-source')).toBe('fallback')
      expect(await response.text()).toBe('s200')
    }
    // Counted where each call ends (finish), once per rf(): calls that share one answer each count there.
    expect(totals.fallbacks).toBe(0)
    expect(seen.filter((e) => e.type === 'fallback').map((e) => e.detail)).toEqual(Array(3).fill({ key: 'https://a.test', age: 3 }))
  })

  it('without a copy the failure stands; an abort is never answered', async () => {
    const { stage, call, next, stored } = setup()
    const failed = ok(500)
    expect(await stage.run(call(), next(failed), undefined)).toBe(failed)
    await stage.run(call(), next(ok(200)), undefined)
    await stored()
    const abort: Outcome = { kind: 'aborted', reason: new Error('mine') }
    expect(await stage.run(call(), next(abort), undefined)).toBe(abort)
  })

  it('only GETs that did not opt out use it: others pass straight through and may be refused at once', async () => {
    const { stage, call, next } = setup()
    const failed = ok(500)
    const post = call({ method: 'POST' })
    const optedOut = call({ options: { fallback: false } })
    expect(await stage.run(post, next(failed), undefined)).toBe(failed)
    expect(stage.answersRefusals!(post)).toBe(false)
    expect(stage.answersRefusals!(optedOut)).toBe(false)
    expect(stage.answersRefusals!(call())).toBe(true)
  })

  it('clear() empties the store', async () => {
    const { stage, call, next, stored } = setup()
    await stage.run(call(), next(ok(200)), undefined)
    await stored()
    await stage.clear()
    const failed = ok(503)
    expect(await stage.run(call(), next(failed), undefined)).toBe(failed)
  })
})
