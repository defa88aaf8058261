/**
 * The retry policy's parts, pinned where mutation testing found their tests silent: the budget's arithmetic and
 * window on its own (min + ratio × calls over the last 10 s, a spent retry no call), and the wait between attempts.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { RetryBudget } from '../src/budget.js'
import { sleep } from '../src/retry.js'
import { MAX_TIMER_MS } from '../src/deadline.js'
import { createResilientFetch } from '../src/index.js'
import { normalizeRetry } from '../src/options.js'
import { retryStage } from '../src/stages/retry.js'
import { reachedNetwork, refusal, type Next, type Outcome } from '../src/stages/types.js'
import { CircuitOpenError } from '../src/errors.js'
import { ok, testCall, testRuntime } from './stages/helpers.js'

describe('RetryBudget', () => {
  it('allows min + ratio × calls retries; a retry it grants is not counted as a call', () => {
    const budget = new RetryBudget({ ratio: 0.5, min: 1 })
    for (let i = 0; i < 4; i++) budget.recordCall(0)
    // 1 + 0.5 × 4 = 3, however many retries were granted before.
    expect([1, 2, 3, 4].map(() => budget.trySpend(0))).toEqual([true, true, true, false])
    budget.recordCall(0)
    budget.recordCall(0)
    // Two more calls: room for one more retry (1 + 0.5 × 6 = 4).
    expect([budget.trySpend(0), budget.trySpend(0)]).toEqual([true, false])
  })

  it("limits given to trySpend stand in for the budget's own", () => {
    const budget = new RetryBudget({ ratio: 0, min: 5 })
    budget.recordCall(0)
    expect(budget.trySpend(0, { ratio: 0, min: 1 })).toBe(true)
    expect(budget.trySpend(0, { ratio: 0, min: 1 })).toBe(false)
    expect(budget.trySpend(0)).toBe(true)
  })

  it('counts the last 10 s: calls and retries older than that no longer count', () => {
    const budget = new RetryBudget({ ratio: 1, min: 0 })
    expect(budget.trySpend(0)).toBe(false)
    budget.recordCall(0)
    expect(budget.trySpend(0)).toBe(true)
    expect(budget.trySpend(9_999)).toBe(false)
    // The call and the retry have both left the window: no calls, no room.
    expect(budget.trySpend(10_000)).toBe(false)
    budget.recordCall(10_000)
    expect(budget.trySpend(10_000)).toBe(true)
  })
})

describe('sleep', () => {
  beforeEach(() => void vi.useFakeTimers({ now: 0 }))
  afterEach(() => void vi.useRealTimers())

  it('waits past the longest a timer can wait in full, in steps, and no longer', async () => {
    let done = false
    void sleep(MAX_TIMER_MS + 5_000, undefined).then(() => (done = true))
    await vi.advanceTimersByTimeAsync(MAX_TIMER_MS)
    expect(done).toBe(false)
    await vi.advanceTimersByTimeAsync(4_999)
    expect(done).toBe(false)
    await vi.advanceTimersByTimeAsync(1)
    expect(done).toBe(true)
    expect(vi.getTimerCount()).toBe(0)
  })

  it('an abort in the second step ends it at once with the reason, leaving no timer', async () => {
    const controller = new AbortController()
    const slept = sleep(MAX_TIMER_MS * 2, controller.signal)
    await vi.advanceTimersByTimeAsync(MAX_TIMER_MS + 10)
    const reason = new Error('gone')
    controller.abort(reason)
    await expect(slept).rejects.toBe(reason)
    expect(vi.getTimerCount()).toBe(0)
  })
})

describe("the key's retry budget counts every call of the key", () => {
  beforeEach(() => void vi.useFakeTimers({ now: 0 }))
  afterEach(() => void vi.useRealTimers())

  it('a call with retry: false is one of the calls the ratio counts, as one with limit: 0 is', async () => {
    for (const off of [false, { limit: 0 }] as const) {
      let sent = 0
      const rf = createResilientFetch({
        fetch: async () => new Response('', { status: ++sent > 4 ? 503 : 200 }),
        fallback: false,
        breaker: false,
        retry: { limit: 5, backoff: { base: 1, max: 1, jitter: 'none' }, budget: { ratio: 0.5, min: 0 } },
      })
      for (let i = 0; i < 4; i++) expect((await rf('https://a.test/', { resilience: { retry: off } })).status).toBe(200)
      const failing = rf('https://a.test/')
      await vi.advanceTimersByTimeAsync(20)
      expect((await failing).status).toBe(503)
      // Five calls make room for 0.5 × 5 = 2.5: three retries (a retry is granted while fewer than that were spent).
      expect(sent, `retry: ${JSON.stringify(off)}`).toBe(8)
    }
  })
})

describe('the retry stage', () => {
  beforeEach(() => void vi.useFakeTimers({ now: 1_000_000 }))
  afterEach(() => void vi.useRealTimers())

  const backoff = { base: 10, max: 10, jitter: 'none' as const }
  /** A `next` answering the outcomes given in turn (the last repeats), counting an attempt for each that reached the network. */
  const answers = (...outcomes: Outcome[]) => {
    let i = 0
    return vi.fn<Next>(async (call) => {
      const outcome = outcomes[Math.min(i++, outcomes.length - 1)]!
      if (reachedNetwork(outcome)) call.attempts++
      return outcome
    })
  }

  it('a refused retry ends the call with the network error before it as it was: one that isFailure forgave stays forgiven', async () => {
    const { runtime } = testRuntime(Date.now)
    const forgiven: Outcome = { kind: 'error', error: new TypeError('fetch failed'), failure: false, duration: 1 }
    const next = answers(forgiven, refusal('open', new CircuitOpenError('https://a.test', 1_000)))
    const result = retryStage(runtime).run(testCall({ retry: normalizeRetry({ limit: 2, backoff, budget: false }) }), next, undefined)
    await vi.advanceTimersByTimeAsync(10)
    expect(await result).toBe(forgiven)
    expect(next).toHaveBeenCalledTimes(2)
  })

  it("the retries of a call without a budget are not spent from its key's budget: a budgeted call after them still has its min", async () => {
    const { runtime } = testRuntime(Date.now)
    const stage = retryStage(runtime)
    const spend = stage.forKey!('https://a.test')
    const free = answers(ok(503), ok(503), ok(200))
    const first = stage.run(testCall({ at: Date.now(), retry: normalizeRetry({ limit: 2, backoff, budget: false }) }), free, spend)
    await vi.advanceTimersByTimeAsync(20)
    expect(await first).toMatchObject({ failure: false })
    expect(free).toHaveBeenCalledTimes(3)
    const budgeted = answers(ok(503), ok(503))
    const second = stage.run(testCall({ at: Date.now(), retry: normalizeRetry({ limit: 2, backoff, budget: { ratio: 0, min: 1 } }) }), budgeted, spend)
    await vi.advanceTimersByTimeAsync(20)
    await second
    // Its one retry (min 1, ratio 0), not none.
    expect(budgeted).toHaveBeenCalledTimes(2)
  })

  it("a call that reaches the stage long after it was made (a coalesced follower whose leader hung) is counted now: the key's recent counts stay", async () => {
    const { runtime } = testRuntime(Date.now)
    const stage = retryStage(runtime)
    const spend = stage.forKey!('https://a.test')
    const retry = normalizeRetry({ limit: 1, backoff, budget: { ratio: 0, min: 1 } })
    const first = answers(ok(503), ok(503))
    const done = stage.run(testCall({ at: Date.now(), retry }), first, spend)
    await vi.advanceTimersByTimeAsync(10)
    await done
    expect(first).toHaveBeenCalledTimes(2)
    // Made 10 s ago: the key's one retry of the last 10 s is spent, and stays spent.
    const late = answers(ok(503), ok(503))
    const result = stage.run(testCall({ at: Date.now() - 10_000, retry }), late, spend)
    await vi.advanceTimersByTimeAsync(10)
    await result
    expect(late).toHaveBeenCalledTimes(1)
  })
})
