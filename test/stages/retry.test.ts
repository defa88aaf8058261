import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { normalizeRetry } from '../../src/options.js'
import { RetryBudget } from '../../src/budget.js'
import { CircuitOpenError } from '../../src/errors.js'
import { retryStage } from '../../src/stages/retry.js'
import { aborted, reachedNetwork, refusal, type Next, type Outcome } from '../../src/stages/types.js'
import { networkError, ok, testCall, testRuntime } from './helpers.js'

const noJitter = { backoff: { base: 100, max: 1_000, jitter: 'none' as const }, budget: false as const }

/** A `next` that answers with the outcomes given, in turn, and counts its calls; one that reached the network counts an attempt, as the transport does. */
function answers(...outcomes: Outcome[]) {
  let i = 0
  const next = vi.fn<Next>(async (call) => {
    const outcome = outcomes[Math.min(i++, outcomes.length - 1)]!
    if (reachedNetwork(outcome)) call.attempts++
    return outcome
  })
  return next
}

beforeEach(() => void vi.useFakeTimers({ now: 1_000_000 }))
afterEach(() => void vi.useRealTimers())

describe('retry stage', () => {
  it('retries a retryable status after the backoff, up to the limit, and ends with the last response', async () => {
    const { runtime, totals, seen } = testRuntime(Date.now)
    const stage = retryStage(runtime)
    const next = answers(ok(503), ok(503), ok(503))
    const result = stage.run(testCall({ retry: normalizeRetry({ limit: 2, ...noJitter }) }), next, undefined)
    await vi.advanceTimersByTimeAsync(99)
    expect(next).toHaveBeenCalledTimes(1)
    await vi.advanceTimersByTimeAsync(1)
    expect(next).toHaveBeenCalledTimes(2)
    await vi.advanceTimersByTimeAsync(200)
    const outcome = await result
    expect(next).toHaveBeenCalledTimes(3)
    expect(outcome).toMatchObject({ kind: 'response', failure: true })
    expect(totals.retries).toBe(2)
    expect(seen.filter((e) => e.type === 'retry').map((e) => e.detail)).toEqual([
      { key: 'https://a.test', attempt: 2, delay: 100 },
      { key: 'https://a.test', attempt: 3, delay: 200 },
    ])
  })

  it('a good response ends the call at once', async () => {
    const { runtime } = testRuntime(Date.now)
    const retry = normalizeRetry({ limit: 2, ...noJitter })
    const next = answers(networkError(), ok(200))
    const result = retryStage(runtime).run(testCall({ retry }), next, undefined)
    await vi.advanceTimersByTimeAsync(100)
    expect(await result).toMatchObject({ kind: 'response', failure: false })
    expect(next).toHaveBeenCalledTimes(2)
  })

  it('never retries a refusal; a refused retry ends the call with the outcome before it', async () => {
    const { runtime } = testRuntime(Date.now)
    const retry = normalizeRetry({ limit: 3, ...noJitter })
    const open = refusal('open', new CircuitOpenError('https://a.test', 1_000))
    const first = retryStage(runtime).run(testCall({ retry }), answers(open), undefined)
    expect(await first).toBe(open)

    const failed = ok(503)
    const next = answers(failed, open)
    const second = retryStage(runtime).run(testCall({ retry }), next, undefined)
    await vi.advanceTimersByTimeAsync(100)
    const outcome = await second
    expect(next).toHaveBeenCalledTimes(2)
    expect(outcome).toMatchObject({ kind: 'response', failure: true })
    expect((outcome as { response: Response }).response).toBe((failed as { response: Response }).response)
  })

  it('only retries its methods, and not a total timeout', async () => {
    const { runtime } = testRuntime(Date.now)
    const retry = normalizeRetry({ limit: 2, ...noJitter })
    const post = answers(ok(503))
    await retryStage(runtime).run(testCall({ retry, method: 'POST' }), post, undefined)
    expect(post).toHaveBeenCalledTimes(1)
    const { TimeoutError } = await import('../../src/errors.js')
    const total = answers({ kind: 'timeout', error: new TimeoutError(50, 'total'), failure: true, duration: 50 })
    await retryStage(runtime).run(testCall({ retry }), total, undefined)
    expect(total).toHaveBeenCalledTimes(1)
  })

  it("honours Retry-After up to maxRetryAfter; a longer one is not waited for", async () => {
    const { runtime } = testRuntime(Date.now)
    const retry = normalizeRetry({ limit: 1, maxRetryAfter: 5_000, ...noJitter })
    const soon = answers(ok(503, { 'retry-after': '2' }), ok(200))
    const result = retryStage(runtime).run(testCall({ retry }), soon, undefined)
    await vi.advanceTimersByTimeAsync(1_999)
    expect(soon).toHaveBeenCalledTimes(1)
    await vi.advanceTimersByTimeAsync(1)
    expect(await result).toMatchObject({ failure: false })
    const late = answers(ok(503, { 'retry-after': '6' }), ok(200))
    expect(await retryStage(runtime).run(testCall({ retry }), late, undefined)).toMatchObject({ failure: true })
    expect(late).toHaveBeenCalledTimes(1)
  })

  it('does not wait past the total deadline, and spends the key budget', async () => {
    const { runtime } = testRuntime(Date.now)
    const retry = normalizeRetry({ limit: 2, ...noJitter })
    const near = answers(ok(503))
    await retryStage(runtime).run(testCall({ retry, deadline: Date.now() + 100 }), near, undefined)
    expect(near).toHaveBeenCalledTimes(1)

    const budgeted = normalizeRetry({ limit: 2, backoff: noJitter.backoff, budget: { ratio: 0, min: 1 } })
    const stage = retryStage(runtime)
    const budget = stage.forKey!('https://a.test') as RetryBudget
    expect(budget).toBeInstanceOf(RetryBudget)
    const next = answers(ok(503))
    const result = stage.run(testCall({ retry: budgeted }), next, budget)
    await vi.advanceTimersByTimeAsync(1_000)
    await result
    expect(next).toHaveBeenCalledTimes(2)
  })

  it("the caller's abort during the wait ends the call with its reason and cancels the kept response", async () => {
    const { runtime } = testRuntime(Date.now)
    const retry = normalizeRetry({ limit: 2, ...noJitter })
    const controller = new AbortController()
    const kept = ok(503) as { response: Response }
    const cancel = vi.spyOn(kept.response.body!, 'cancel')
    const result = retryStage(runtime).run(testCall({ retry, signal: controller.signal }), answers(kept as Outcome), undefined)
    await vi.advanceTimersByTimeAsync(10)
    const reason = new Error('mine')
    controller.abort(reason)
    expect(await result).toEqual({ kind: 'aborted', reason })
    expect(cancel).toHaveBeenCalled()
  })

  it('counts a retry in totals.retries once it reached the transport, not when it is scheduled', async () => {
    const retry = normalizeRetry({ limit: 2, ...noJitter })
    const run = async (next: Next, signal?: AbortSignal) => {
      const { runtime, totals, seen } = testRuntime(Date.now)
      const result = retryStage(runtime).run(testCall({ retry, signal }), next, undefined)
      await vi.advanceTimersByTimeAsync(50)
      return { result, totals, retryEvents: () => seen.filter((e) => e.type === 'retry').length }
    }
    // The caller aborts during the backoff: the retry was scheduled (its event), never made.
    const controller = new AbortController()
    const abortedInWait = await run(answers(ok(503)), controller.signal)
    controller.abort(new Error('mine'))
    expect(await abortedInWait.result).toMatchObject({ kind: 'aborted' })
    expect(abortedInWait.retryEvents()).toBe(1)
    expect(abortedInWait.totals.retries).toBe(0)
    // A gate refuses the retry (an open breaker, a full bulkhead, the total deadline in the queue): no attempt either.
    for (const denial of [refusal('open', new CircuitOpenError('https://a.test', 1_000)), aborted(new Error('left the queue'))]) {
      const refused = await run(answers(ok(503), denial))
      await vi.advanceTimersByTimeAsync(100)
      await refused.result
      expect(refused.retryEvents()).toBe(1)
      expect(refused.totals.retries).toBe(0)
    }
    // Retries that reached the transport count, each once, when they end.
    const reached = await run(answers(networkError(), ok(503), ok(200)))
    expect(reached.totals.retries).toBe(0)
    await vi.advanceTimersByTimeAsync(50)
    expect(reached.totals.retries).toBe(1)
    await vi.advanceTimersByTimeAsync(200)
    expect(await reached.result).toMatchObject({ kind: 'response', failure: false })
    expect(reached.totals.retries).toBe(2)
  })
})
