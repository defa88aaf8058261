/**
 * One key's Breaker alone, with the times given: what a Retry-After may and may not do to its state, what its
 * snapshot says, and how far a clock set back moves an open period.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { normalizeBreaker, type NormalizedBreaker } from '../src/options.js'
import { Breaker } from '../src/breaker/breaker.js'
import type { BreakerOptions } from '../src/types.js'

const T = 1_000_000

/** A breaker that opens on the first failure for 30 s (no jitter, no growth unless asked). */
function breaker(options: BreakerOptions = {}) {
  return new Breaker('https://a.test', normalizeBreaker({ window: 'consecutive', failureThreshold: 1, openDuration: 30_000, ...options }) as NormalizedBreaker, () => {})
}

/** Admits one attempt at `t` and records its outcome then. */
function pass(b: Breaker, failure: boolean, t: number): void {
  b.record(b.admit(t, Infinity), failure, false, t)
}

beforeEach(() => void vi.useFakeTimers({ now: T }))
afterEach(() => void vi.useRealTimers())

describe("an upstream's Retry-After", () => {
  it('never opens a disabled breaker', () => {
    const b = breaker()
    b.disable()
    b.openFor(5_000, T)
    expect(b.state).toBe('disabled')
  })

  it('leaves a forced open and its end alone', () => {
    const b = breaker()
    b.open(60_000)
    b.openFor(5_000, T)
    expect(b.snapshot(T + 5_000)).toMatchObject({ state: 'forced-open', nextProbeAt: T + 60_000 })
  })

  it('shorter than what is left of the open period does not shorten it; longer, it extends it', () => {
    const b = breaker()
    pass(b, true, T)
    b.openFor(5_000, T)
    expect(b.snapshot(T)).toMatchObject({ state: 'open', nextProbeAt: T + 30_000 })
    b.openFor(30_000, T)
    expect(b.snapshot(T)).toMatchObject({ state: 'open', nextProbeAt: T + 30_000 })
    b.openFor(120_000, T)
    expect(b.snapshot(T)).toMatchObject({ state: 'open', nextProbeAt: T + 120_000 })
  })

  it('opens a breaker closed by hand before its open period ended, until then', () => {
    const b = breaker()
    b.open(60_000)
    b.close()
    b.openFor(5_000, T)
    expect(b.snapshot(T)).toMatchObject({ state: 'open', nextProbeAt: T + 5_000 })
  })
})

describe('the snapshot', () => {
  it('failureRate is the failures over the calls in the window', () => {
    const b = breaker({ failureThreshold: 10, window: { type: 'count', size: 10 } })
    pass(b, true, T)
    pass(b, false, T)
    expect(b.snapshot(T)).toMatchObject({ calls: 2, failures: 1, failureRate: 0.5 })
  })

  it('transitions counts each change of state, never a forced open given a new end', () => {
    const b = breaker()
    pass(b, true, T)
    pass(b, false, T + 30_000)
    expect(b.snapshot(T + 30_000)).toMatchObject({ state: 'closed', transitions: 3 })
    vi.setSystemTime(T + 30_000)
    b.open(1_000)
    b.open(5_000)
    expect(b.snapshot(T + 30_000)).toMatchObject({ state: 'forced-open', transitions: 4 })
  })

  it('a closed breaker that was open shows no openedAt; a forced open with no end shows no nextProbeAt', () => {
    const b = breaker()
    pass(b, true, T)
    b.close()
    expect(b.snapshot(T)).not.toHaveProperty('openedAt')
    b.open()
    const forced = b.snapshot(T)
    expect(forced).toMatchObject({ state: 'forced-open', openedAt: T })
    expect(forced).not.toHaveProperty('nextProbeAt')
  })
})

describe('a clock set back', () => {
  it('by at most LOST_AFTER (concurrent calls read it that far apart) moves no open period; by more, the open ends as long after now as it was after its start', () => {
    const b = breaker()
    pass(b, true, T)
    expect(b.snapshot(T - 1_000)).toMatchObject({ state: 'open', nextProbeAt: T + 30_000 })
    expect(b.snapshot(T - 1_001)).toMatchObject({ state: 'open', nextProbeAt: T + 30_000 - 1_001 })
  })
})

describe('a close adopted from a share', () => {
  it('forgets the window and the growth of the open duration, as a close here does', () => {
    const b = breaker({ failureThreshold: 2, openDuration: { base: 10_000, max: 100_000, multiplier: 2, jitter: 0 } })
    pass(b, true, T)
    pass(b, true, T)
    vi.setSystemTime(T + 10_000)
    // The probe fails: open again, for twice as long.
    pass(b, true, T + 10_000)
    expect(b.snapshot(T + 10_000)).toMatchObject({ state: 'open', nextProbeAt: T + 30_000 })
    b.restore('closed', T + 10_000, T, T + 10_000)
    pass(b, true, T + 10_000)
    expect(b.snapshot(T + 10_000)).toMatchObject({ state: 'closed', failures: 1 })
    pass(b, true, T + 10_000)
    expect(b.snapshot(T + 10_000)).toMatchObject({ state: 'open', nextProbeAt: T + 20_000 })
  })
})

it('breaker.open(0) is refused, naming the method and the value', () => {
  expect(() => breaker().open(0)).toThrow(new RangeError('breaker.open(ms) must be a positive number, got 0'))
})

it("breaker.open('5000') is refused as a TypeError with the hint, not taken as a string end (open for good)", () => {
  expect(() => breaker().open('5000' as never)).toThrow(new TypeError('breaker.open(ms) must be a positive number, got "5000" (a string: write 5000 without quotes)'))
  const b = breaker()
  b.open(5_000)
  expect(typeof b.snapshot(Date.now()).nextProbeAt).toBe('number')
})
