/**
 * What the throttle's counts are made of, pinned where mutation testing found them loose: a bucket used again a window
 * later starts from nothing (neither its old requests nor its old accepts count).
 */
import { describe, expect, it } from 'vitest'
import { AdaptiveThrottle } from '../src/stages/throttle.js'
import { NORMAL } from '../src/priority.js'

const options = { k: 2, window: 120_000, maxRejectRate: 0.9 }
/** A realistic clock on a bucket boundary (a twentieth of the window: 6 s). */
const T0 = Math.floor(1_780_000_000_000 / 6_000) * 6_000

describe('a bucket used again a window later', () => {
  it('forgets the failures it held: one success then is all there is (p 0)', () => {
    const t = new AdaptiveThrottle(options)
    for (let i = 0; i < 100; i++) t.settle(T0, false)
    // The same slot of the ring, twenty buckets on.
    t.settle(T0 + options.window, true)
    expect(t.probability(T0 + options.window, NORMAL)).toBe(0)
  })

  it('forgets the successes it held: failures then shed as if they were the only history', () => {
    const t = new AdaptiveThrottle(options)
    for (let i = 0; i < 100; i++) t.settle(T0, true)
    for (let i = 0; i < 10; i++) t.settle(T0 + options.window, false)
    // 10 requests, no accepts: 10 / 11, capped at 0.9.
    expect(t.probability(T0 + options.window, NORMAL)).toBe(0.9)
  })
})
