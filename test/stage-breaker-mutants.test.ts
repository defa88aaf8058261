/** The breaker stage alone: where a slow call begins, which Retry-After opens it, its events, its control, and off. */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { normalizeBreaker, normalizeTimeout, type NormalizedBreaker } from '../src/options.js'
import type { Breaker } from '../src/breaker/breaker.js'
import { breakerStage } from '../src/stages/breaker.js'
import { Keys } from '../src/stages/keys.js'
import type { Attempt, Outcome } from '../src/stages/types.js'
import type { BreakerOptions } from '../src/types.js'
import { ok, testCall, testRuntime } from './stages/helpers.js'

const KEY = 'https://a.test'

function setup(options: BreakerOptions = {}) {
  const t = testRuntime(Date.now)
  const stage = breakerStage(normalizeBreaker(options) as NormalizedBreaker, undefined, t.runtime)!
  const breaker = stage.forKey!(KEY) as Breaker
  /** Admits and settles one attempt with `outcome`. */
  async function pass(outcome: Outcome) {
    const attempt: Attempt = { call: testCall({ timeout: normalizeTimeout({ attempt: 1_000, total: false }) }), signal: undefined, start: Date.now() }
    stage.settle(breaker, attempt, (await stage.admit(breaker, attempt, Date.now())) as never, outcome)
  }
  return { ...t, stage, breaker, pass }
}

const lasting = (status: number, duration: number, headers?: HeadersInit): Outcome => ({ ...ok(status, headers), duration }) as Outcome

beforeEach(() => void vi.useFakeTimers({ now: 1_000_000 }))
afterEach(() => void vi.useRealTimers())

describe('breaker stage', () => {
  it('a call is slow only when it lasts longer than slowCall.duration, not when it lasts exactly that long', async () => {
    const { breaker, pass } = setup({ window: { type: 'count', size: 10 }, failureThreshold: 10, slowCall: { duration: 100, rate: 1 } })
    await pass(lasting(200, 100))
    expect(breaker.snapshot(Date.now()).slowCalls).toBe(0)
    await pass(lasting(200, 101))
    expect(breaker.snapshot(Date.now()).slowCalls).toBe(1)
  })

  it('only a 503 or a 429 with Retry-After opens it for that long: a 500 with one counts as one failure', async () => {
    const { breaker, pass } = setup({ window: 'consecutive', failureThreshold: 2 })
    await pass(lasting(500, 1, { 'retry-after': '120' }))
    expect(breaker.state).toBe('closed')
    await pass(lasting(503, 1, { 'retry-after': '120' }))
    expect(breaker.state).toBe('open')
    expect(breaker.retryAfter(Date.now())).toBe(120_000)
  })

  it('opening an open breaker again (a longer forced open) emits no second statechange', () => {
    const { breaker, seen } = setup()
    breaker.open(1_000)
    breaker.open(5_000)
    expect(breaker.retryAfter(Date.now())).toBe(5_000)
    expect(seen.filter((e) => e.type === 'statechange').map((e) => e.detail)).toEqual([{ key: KEY, from: 'closed', to: 'forced-open' }])
  })

  it('rf.breaker(string): a string that is not an absolute URL is a key, never mapped through keyOf', () => {
    const { stage } = setup()
    const keys = new Keys([stage], 10)
    keys.get(KEY)
    // keyOf as a page would resolve a relative path: onto the page's origin.
    const control = stage.attach(keys, 0, () => KEY)
    expect(control('api/users')).toBeUndefined()
    expect(control('https://a.test/users')!.state).toBe('closed')
  })

  it('breaker: false adds no gate', () => {
    expect(breakerStage(false, undefined, testRuntime(Date.now).runtime)).toBeUndefined()
  })
})
