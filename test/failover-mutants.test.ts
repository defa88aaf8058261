// What the failover stage's tests left open (mutation testing of src/stages/failover.ts): each test here fails
// against a change of the stage's code that test/stages/failover.test.ts and failover-probe.test.ts let through.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { normalizeRetry } from '../src/options.js'
import { BulkheadRejectedError, CircuitOpenError } from '../src/errors.js'
import { retries } from '../src/stages/failover.js'
import { refusal, type Outcome } from '../src/stages/types.js'
import { A, B, C, failoverSetup } from './stages/failover-setup.js'
import { networkError, ok } from './stages/helpers.js'

beforeEach(() => void vi.useFakeTimers({ now: 1_000_000 }))
afterEach(() => void vi.useRealTimers())

const later = (ms: number, value: () => Outcome) => () => new Promise<Outcome>((resolve) => setTimeout(() => resolve(value()), ms))
const keyOf = (outcome: Outcome) => ((outcome as { error: { key: string } }).error as { key: string }).key

describe('failover stage: retry policy', () => {
  it('retry: false — one attempt, on the first target; retries() says no for every method', async () => {
    const { run, asked, totals } = failoverSetup({ [A]: () => ok(503), [B]: () => ok() }, { retry: false })
    expect(await run()).toMatchObject({ kind: 'response', failure: true })
    expect(asked).toEqual([A])
    expect(totals.retries).toBe(0)
    expect(retries(false, 'GET')).toBe(false)
    expect(retries(normalizeRetry(undefined), 'GET')).toBe(true)
    expect(retries(normalizeRetry(undefined), 'POST')).toBe(false)
  })

  it('retry budget: false — every idempotent failure gets its retry on the next target, however many', async () => {
    const { run, asked, totals, budgets } = failoverSetup({ [A]: () => ok(503), [B]: () => ok() }, { retry: normalizeRetry({ budget: false }) })
    expect(budgets.retries).toBeUndefined()
    for (let i = 0; i < 30; i++) {
      const outcome = await run()
      expect(outcome).toMatchObject({ kind: 'response', failure: false })
      expect(asked.at(-1)).toBe(B)
    }
    // The retry budget's default would stop at 10 + 0.2 × 30.
    expect(totals.retries).toBe(30)
  })

  it('an answer that was aborted (the caller gave up) ends the call: no other target is asked', async () => {
    const aborted: Outcome = { kind: 'aborted', reason: new DOMException('gone', 'AbortError') }
    const { run, asked, totals } = failoverSetup({ [A]: () => aborted, [B]: () => ok() })
    expect(await run()).toBe(aborted)
    expect(asked).toEqual([A])
    expect(totals.retries).toBe(0)
  })

  it('the winning answer is returned with its body unread (not cancelled), on the first target or on the retry', async () => {
    const first = failoverSetup({ [A]: () => ok(200), [B]: () => ok() })
    const outcome = await first.run()
    expect(await (outcome as { response: Response }).response.text()).toBe('s200')
    const retried = failoverSetup({ [A]: () => networkError(), [B]: () => ok(201) })
    const second = await retried.run()
    expect(retried.asked).toEqual([A, B])
    expect(await (second as { response: Response }).response.text()).toBe('s201')
  })

  it('the stage is named failover (as orderOf lists it)', () => {
    expect(failoverSetup({ [A]: () => ok() }).stage.name).toBe('failover')
  })
})

describe('failover stage: of refusals, the one that clears soonest', () => {
  it('a later refusal that clears later does not replace an earlier one', async () => {
    const { run, asked } = failoverSetup({ [A]: () => refusal('open', new CircuitOpenError(A, 500)), [B]: () => refusal('open', new CircuitOpenError(B, 5_000)) })
    const outcome = await run()
    expect(asked).toEqual([A, B])
    expect(outcome).toMatchObject({ kind: 'refused', reason: 'open' })
    expect(keyOf(outcome)).toBe(A)
  })

  it('of two refusals that clear at the same time, the first target’s stands', async () => {
    const { run, asked } = failoverSetup({ [A]: () => refusal('bulkhead', new BulkheadRejectedError(A, 1, 0)), [B]: () => refusal('bulkhead', new BulkheadRejectedError(B, 1, 0)) })
    const outcome = await run()
    expect(asked).toEqual([A, B])
    expect(keyOf(outcome)).toBe(A)
  })

  it('a refusal without a Retry-After (a full bulkhead) counts as clearing in 1 s: an open breaker clearing in 500 ms wins over it', async () => {
    const { run } = failoverSetup({ [A]: () => refusal('bulkhead', new BulkheadRejectedError(A, 1, 0)), [B]: () => refusal('open', new CircuitOpenError(B, 500)) })
    const outcome = await run()
    expect(outcome).toMatchObject({ kind: 'refused', reason: 'open' })
    expect(keyOf(outcome)).toBe(B)
    const slower = failoverSetup({ [A]: () => refusal('bulkhead', new BulkheadRejectedError(A, 1, 0)), [B]: () => refusal('open', new CircuitOpenError(B, 1_500)) })
    expect(keyOf(await slower.run())).toBe(A)
  })

  it('after a hedge whose both targets refused, an earlier refusal that clears sooner is the outcome', async () => {
    const { run, asked, totals } = failoverSetup(
      {
        [A]: () => refusal('open', new CircuitOpenError(A, 10)),
        [B]: later(100, () => refusal('bulkhead', new BulkheadRejectedError(B, 1, 1))),
        [C]: later(20, () => refusal('bulkhead', new BulkheadRejectedError(C, 1, 1))),
      },
      { hedge: { delay: 10, budget: false } },
    )
    const pending = run()
    await vi.advanceTimersByTimeAsync(200)
    const outcome = await pending
    expect(asked).toEqual([A, B, C])
    expect(totals.hedges).toBe(1)
    expect(outcome).toMatchObject({ kind: 'refused', reason: 'open' })
    expect(keyOf(outcome)).toBe(A)
  })
})

describe('failover stage: hedging', () => {
  it('no hedge with a single target, however slow it is', async () => {
    const { run, asked, totals } = failoverSetup({ [A]: later(100, () => ok()) }, { hedge: { delay: 10, budget: false } })
    const pending = run()
    await vi.advanceTimersByTimeAsync(100)
    expect(await pending).toMatchObject({ kind: 'response', failure: false })
    expect(asked).toEqual([A])
    expect(totals.hedges).toBe(0)
  })

  it('a failure answered before the hedge delay still gets its retry, and the retry itself is never hedged', async () => {
    const { run, asked, totals } = failoverSetup({ [A]: () => ok(503), [B]: later(100, () => ok()), [C]: () => ok() }, { hedge: { delay: 10, budget: false } })
    const pending = run()
    await vi.advanceTimersByTimeAsync(100)
    const outcome = await pending
    expect(outcome).toMatchObject({ kind: 'response', failure: false })
    expect(asked).toEqual([A, B])
    expect(totals).toMatchObject({ hedges: 0, retries: 1 })
  })

  it('hedges only within the hedge budget: past it, a slow GET waits for its own target', async () => {
    const { run, asked, totals } = failoverSetup({ [A]: later(100, () => ok()), [B]: () => ok(), [C]: () => ok() }, { hedge: { delay: 10, budget: { ratio: 0, min: 1 } } })
    const first = run()
    await vi.advanceTimersByTimeAsync(100)
    expect(await first).toMatchObject({ kind: 'response', failure: false })
    expect(asked).toEqual([A, B])
    expect(totals.hedges).toBe(1)
    asked.length = 0
    const second = run()
    await vi.advanceTimersByTimeAsync(100)
    expect(await second).toMatchObject({ kind: 'response', failure: false })
    expect(asked).toEqual([A])
    expect(totals.hedges).toBe(1)
  })
})
