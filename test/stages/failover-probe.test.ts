import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { normalizeBreaker, normalizeRetry, type NormalizedBreaker } from '../../src/options.js'
import { Breaker } from '../../src/breaker/breaker.js'
import { failoverStage, type FailoverBudgets } from '../../src/stages/failover.js'
import { aborted, probing, type Call, type Next, type Outcome } from '../../src/stages/types.js'
import { ok, testCall, testRuntime } from './helpers.js'

// The proxy's failover hedge, when the origin it tried first is a half-open breaker's probe that loses the race.

const A = 'https://a.test'
const B = 'https://b.test'

beforeEach(() => void vi.useFakeTimers({ now: 1_000_000 }))
afterEach(() => void vi.useRealTimers())

/**
 * Failover over A then B, hedging after 200 ms. A stands for an origin behind its own half-open breaker:
 * its attempt is that breaker's probe (marked as the breaker gate marks it), answers 200 or 503 after
 * 1.5 s, or ends as an abort when its signal aborts; its verdict is recorded on `breaker`. B answers 200 at once.
 */
function setup(a: { status: number }, signal?: AbortSignal) {
  const { runtime, totals } = testRuntime(Date.now)
  const breaker = new Breaker(A, normalizeBreaker({ window: 'consecutive', failureThreshold: 1, openDuration: 1_000 }) as NormalizedBreaker, () => {})
  breaker.open(1_000)
  vi.advanceTimersByTime(1_000)
  const waited: Promise<unknown>[] = []
  const call = testCall({ signal, waitUntil: (p) => void waited.push(p) })
  const targets: Call[] = [A, B].map((key) => ({ ...call, key, url: `${key}/x`, input: `${key}/x` }))
  let cancelled = false
  let probeSignal: AbortSignal | undefined
  const origin = (target: Call, controller?: AbortController): Promise<Outcome> => {
    if (target.key === B) return Promise.resolve(ok())
    const token = breaker.admit(Date.now(), Infinity)
    const own = controller!.signal
    probeSignal = own
    probing.set(own, breaker)
    return new Promise<Outcome>((resolve) => {
      const timer = setTimeout(() => {
        const body = new ReadableStream({ cancel: () => void (cancelled = true) })
        const outcome: Outcome = { kind: 'response', response: new Response(body, { status: a.status }), failure: a.status >= 500, duration: 1_500 }
        breaker.record(token, outcome.failure, false, Date.now())
        resolve(outcome)
      }, 1_500)
      own.addEventListener('abort', () => {
        clearTimeout(timer)
        breaker.release(token)
        resolve(aborted(own.reason))
      })
    })
  }
  const next = vi.fn<Next>(origin)
  const stage = failoverStage({ targets: () => targets, healthy: () => true, retry: normalizeRetry(undefined), hedge: { delay: 200, budget: false } }, runtime)
  const budgets = stage.forKey!('route') as FailoverBudgets
  const run = async () => {
    const outcome = await stage.run(call, next, budgets)
    // B answered, 200 ms in; A's probe still out.
    expect(Date.now()).toBe(1_001_200)
    expect(outcome).toMatchObject({ kind: 'response', failure: false })
    expect(next.mock.calls.map(([target]) => target.key)).toEqual([A, B])
    expect(totals.hedges).toBe(1)
    expect(breaker.state).toBe('half-open')
    return outcome
  }
  return { run, breaker, waited, probe: () => probeSignal!, cancelled: () => cancelled }
}

describe('failover hedging and a half-open probe that loses the race', () => {
  it("the probe on the first origin is left to finish after the other origin's answer won: its 200 closes that breaker, its body is cancelled", async () => {
    const s = setup({ status: 200 })
    const pending = s.run()
    await vi.advanceTimersByTimeAsync(200)
    await pending
    expect(s.probe().aborted).toBe(false)
    expect(s.waited).toHaveLength(1)
    await vi.advanceTimersByTimeAsync(1_300)
    await s.waited[0]
    expect(s.breaker.state).toBe('closed')
    expect(s.cancelled()).toBe(true)
    expect(vi.getTimerCount()).toBe(0)
  })

  it('a probe that fails after losing re-opens that breaker', async () => {
    const s = setup({ status: 503 })
    const pending = s.run()
    await vi.advanceTimersByTimeAsync(200)
    await pending
    await vi.advanceTimersByTimeAsync(1_300)
    await s.waited[0]
    expect(s.breaker.state).toBe('open')
  })

  it("the caller's abort still ends the losing probe: no verdict, the probe slot is free again", async () => {
    const caller = new AbortController()
    const s = setup({ status: 200 }, caller.signal)
    const pending = s.run()
    await vi.advanceTimersByTimeAsync(200)
    await pending
    expect(s.probe().aborted).toBe(false)
    expect(s.breaker.busy).toBe(true)
    caller.abort(new Error('gone'))
    await s.waited[0]
    expect(s.probe().aborted).toBe(true)
    expect(s.breaker.state).toBe('half-open')
    expect(s.breaker.busy).toBe(false)
    expect(vi.getTimerCount()).toBe(0)
  })
})
