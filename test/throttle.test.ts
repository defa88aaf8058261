import { describe, expect, it } from 'vitest'
import { AdaptiveThrottle, throttleStage } from '../src/stages/throttle.js'
import { ThrottledError } from '../src/errors.js'
import { isDenial, type Attempt, type Outcome } from '../src/stages/types.js'
import { networkError, ok, testCall, testRuntime } from './stages/helpers.js'
import { HIGH, LOW, NORMAL } from '../src/priority.js'
import { normalizeThrottle } from '../src/options.js'
import { createResilientFetch } from '../src/index.js'

const options = { k: 2, window: 120_000, maxRejectRate: 0.9 }
const always = () => 0
const never = () => 0.999_999

describe('AdaptiveThrottle', () => {
  it("never sheds a key's first attempt", () => {
    const t = new AdaptiveThrottle(options)
    expect(t.probability(0, LOW)).toBe(0)
    expect(t.decide(0, LOW, always)).toBe(0)
  })

  it('never sheds while the upstream is healthy, however many attempts', () => {
    const t = new AdaptiveThrottle(options)
    let shed = 0
    for (let i = 0; i < 10_000; i++) {
      if (t.decide(i * 10, LOW, always) > 0) shed++
      t.settle(i * 10, true)
    }
    expect(shed).toBe(0)
  })

  it('attempts in flight do not raise p: only settled ones count', () => {
    const t = new AdaptiveThrottle(options)
    for (let i = 0; i < 100; i++) expect(t.decide(0, NORMAL, always)).toBe(0)
    expect(t.probability(0, NORMAL)).toBe(0)
  })

  it('sheds with p = max(0, (requests − k·accepts) / (requests + 1))', () => {
    const t = new AdaptiveThrottle(options)
    // 10 requests, 2 accepted: (10 − 4) / 11
    for (let i = 0; i < 10; i++) t.settle(1_000, i < 2)
    expect(t.probability(1_000, NORMAL)).toBeCloseTo(6 / 11, 12)
    // 10 requests, 5 accepted: 10 − 10 = 0
    const healthy = new AdaptiveThrottle(options)
    for (let i = 0; i < 10; i++) healthy.settle(1_000, i < 5)
    expect(healthy.probability(1_000, NORMAL)).toBe(0)
  })

  it('scales p by priority (low ×2, high ×½), then caps it at maxRejectRate', () => {
    const t = new AdaptiveThrottle(options)
    for (let i = 0; i < 10; i++) t.settle(0, i < 4) // (10 − 8) / 11
    expect(t.probability(0, NORMAL)).toBeCloseTo(2 / 11, 12)
    expect(t.probability(0, HIGH)).toBeCloseTo(1 / 11, 12)
    expect(t.probability(0, LOW)).toBeCloseTo(4 / 11, 12)
    const down = new AdaptiveThrottle(options)
    for (let i = 0; i < 1_000; i++) down.settle(0, false)
    expect(down.probability(0, NORMAL)).toBe(0.9)
    expect(down.probability(0, LOW)).toBe(0.9)
    expect(down.probability(0, HIGH)).toBeCloseTo(0.5 * (1_000 / 1_001), 12)
  })

  it('a shed attempt counts as a request at once (as in the SRE book), raising p', () => {
    const t = new AdaptiveThrottle(options)
    for (let i = 0; i < 4; i++) t.settle(0, false)
    const before = t.probability(0, NORMAL)
    expect(t.decide(0, NORMAL, always)).toBe(before)
    expect(t.probability(0, NORMAL)).toBeGreaterThan(before)
    expect(t.decide(0, NORMAL, never)).toBe(0)
  })

  it('forgets what is older than the window: a recovered upstream gets full traffic back', () => {
    const t = new AdaptiveThrottle(options)
    for (let i = 0; i < 100; i++) t.settle(0, false)
    expect(t.probability(60_000, NORMAL)).toBe(0.9)
    expect(t.probability(119_000, NORMAL)).toBe(0.9)
    expect(t.probability(126_001, NORMAL)).toBe(0)
  })

  it('p falls as accepts come back within the window', () => {
    const t = new AdaptiveThrottle(options)
    for (let i = 0; i < 20; i++) t.settle(0, false)
    const during = t.probability(1_000, NORMAL)
    for (let i = 0; i < 10; i++) t.settle(2_000, true)
    const after = t.probability(2_000, NORMAL)
    expect(after).toBeLessThan(during)
    for (let i = 0; i < 10; i++) t.settle(3_000, true)
    expect(t.probability(3_000, NORMAL)).toBe(0)
  })
})

describe('throttle options', () => {
  it('defaults to off; {} turns it on with k 2, a 120 s window, at most 0.9', () => {
    expect(normalizeThrottle(undefined)).toBe(false)
    expect(normalizeThrottle(false)).toBe(false)
    expect(normalizeThrottle({})).toEqual({ k: 2, window: 120_000, maxRejectRate: 0.9 })
  })

  it('rejects bad values at creation, naming the option path and the value', () => {
    expect(() => createResilientFetch({ throttle: { k: 0.5 } })).toThrow('throttle.k must be a finite number >= 1, got 0.5')
    expect(() => createResilientFetch({ throttle: { window: -1 } })).toThrow(/throttle\.window .* got -1/)
    expect(() => createResilientFetch({ throttle: { maxRejectRate: 1 } })).toThrow('throttle.maxRejectRate must be below 1, got 1')
    expect(() => createResilientFetch({ throttle: { maxRejectRate: 2 } })).toThrow(RangeError)
    expect(() => createResilientFetch({ throttle: { K: 2 } as never })).toThrow('throttle.K is not an option')
    expect(() => createResilientFetch({ throttle: 'on' as never })).toThrow(/throttle must be an object, got "on"/)
  })
})

describe('throttle stage', () => {
  function setup() {
    const t = testRuntime(Date.now)
    const events: { type: string; detail: unknown }[] = []
    t.runtime.events.emit = (type, detail) => void events.push({ type, detail })
    const stage = throttleStage(normalizeThrottle({ maxRejectRate: 0.5 }), t.runtime)!
    const state = stage.forKey!('https://a.test')
    const attempt = (priority: 0 | 1 | 2 = NORMAL): Attempt => ({ call: testCall({ priority }), signal: undefined, start: 0 })
    const pass = (outcome: Outcome) => {
      const a = attempt()
      const ticket = stage.admit(state, a, Date.now())
      if (!isDenial(ticket)) stage.settle(state, a, true, outcome)
      return ticket
    }
    return { stage, state, attempt, pass, totals: t.totals, events }
  }

  it('is off unless asked for', () => {
    expect(throttleStage(false, testRuntime().runtime)).toBeUndefined()
  })

  it('sheds with ThrottledError (key, probability), a throttle and a reject event, and counts it', () => {
    const { stage, state, attempt, pass, totals, events } = setup()
    for (let i = 0; i < 50; i++) pass(networkError())
    let refused: Outcome | true | undefined
    for (let i = 0; i < 100 && (refused === undefined || refused === true); i++) refused = stage.admit(state, attempt(LOW), Date.now()) as Outcome | true
    expect(refused).toMatchObject({ kind: 'refused', reason: 'throttle' })
    const error = (refused as { error: ThrottledError }).error
    expect(error).toBeInstanceOf(ThrottledError)
    expect(error).toMatchObject({ name: 'ThrottledError', key: 'https://a.test', probability: 0.5 })
    expect(totals.throttled).toBeGreaterThanOrEqual(1)
    expect(events.slice(-2)).toEqual([
      { type: 'throttle', detail: { key: 'https://a.test', probability: 0.5 } },
      { type: 'reject', detail: { key: 'https://a.test', reason: 'throttle' } },
    ])
  })

  it('learns only from outcomes that reached the network: refusals and aborts never move it', () => {
    const { state, pass } = setup()
    for (let i = 0; i < 50; i++) pass({ kind: 'refused', reason: 'open', error: new Error('open') })
    for (let i = 0; i < 50; i++) pass({ kind: 'aborted', reason: 'bye' })
    expect(state.probability(Date.now(), NORMAL)).toBe(0)
    for (let i = 0; i < 50; i++) pass(ok(200))
    expect(state.probability(Date.now(), LOW)).toBe(0)
    for (let i = 0; i < 10; i++) pass(ok(503))
    expect(state.probability(Date.now(), LOW)).toBe(0)
  })
})
