import { describe, expect, it } from 'vitest'
import { AdaptiveThrottle, throttleStage } from '../src/stages/throttle.js'
import { isDenial, type Attempt, type Outcome } from '../src/stages/types.js'
import { networkError, ok, testCall, testRuntime } from './stages/helpers.js'
import { NORMAL } from '../src/priority.js'
import { normalizeThrottle } from '../src/options.js'

const options = { k: 2, window: 120_000, maxRejectRate: 0.9 }

describe('what the throttle learns from', () => {
  it('refusals and caller aborts after failures neither raise nor lower p: they are not accepts', () => {
    const t = testRuntime(Date.now)
    const stage = throttleStage(normalizeThrottle({}), t.runtime)!
    const state = stage.forKey!('https://a.test')
    // Every attempt goes on (the draw is never under p): only settle moves the counts.
    const pass = (outcome: Outcome) => {
      const attempt: Attempt = { call: testCall({}), signal: undefined, start: 0 }
      const ticket = stage.admit(state, attempt, Date.now())
      if (!isDenial(ticket)) stage.settle(state, attempt, true, outcome)
    }
    for (let i = 0; i < 10; i++) pass(networkError())
    const after = state.probability(Date.now(), NORMAL)
    // 10 requests, no accepts: 10 / 11, capped at 0.9.
    expect(after).toBe(0.9)
    for (let i = 0; i < 20; i++) pass(ok(503))
    const p = state.probability(Date.now(), NORMAL)
    for (let i = 0; i < 40; i++) pass({ kind: 'refused', reason: 'open', error: new Error('open') })
    for (let i = 0; i < 40; i++) pass({ kind: 'refused', reason: 'bulkhead', error: new Error('full') })
    for (let i = 0; i < 40; i++) pass({ kind: 'aborted', reason: 'bye' })
    // Counted as accepts, 120 of them would have brought p to 0.
    expect(state.probability(Date.now(), NORMAL)).toBe(p)
    expect(p).toBeGreaterThan(0)
  })

  it('a failure counts for exactly one window: in at window − 1 ms, gone at window', () => {
    const throttle = new AdaptiveThrottle(options)
    // A realistic clock, on a bucket boundary (the window's twentieth: 6 s).
    const t0 = Math.floor(1_780_000_000_000 / 6_000) * 6_000
    for (let i = 0; i < 100; i++) throttle.settle(t0, false)
    expect(throttle.probability(t0 + options.window - 1, NORMAL)).toBe(0.9)
    expect(throttle.probability(t0 + options.window, NORMAL)).toBe(0)
  })

  it('a failure late in its bucket leaves with the bucket, at most one bucket short of a window', () => {
    const throttle = new AdaptiveThrottle(options)
    const t0 = Math.floor(1_780_000_000_000 / 6_000) * 6_000
    for (let i = 0; i < 100; i++) throttle.settle(t0 + 5_999, false)
    expect(throttle.probability(t0 + options.window - 1, NORMAL)).toBe(0.9)
    expect(throttle.probability(t0 + options.window, NORMAL)).toBe(0)
  })
})
