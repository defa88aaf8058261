import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { BulkheadRejectedError, CircuitOpenError } from '../../src/errors.js'
import { refusal, type Outcome } from '../../src/stages/types.js'
import { A, B, C, failoverSetup } from './failover-setup.js'
import { networkError, ok } from './helpers.js'

beforeEach(() => void vi.useFakeTimers({ now: 1_000_000 }))
afterEach(() => void vi.useRealTimers())

describe('failover stage', () => {
  it('an idempotent failure gets one retry on the next target, counted as a retry; nothing more', async () => {
    const { run, asked, totals } = failoverSetup({ [A]: () => ok(503), [B]: () => networkError(), [C]: () => ok() })
    expect(await run()).toMatchObject({ kind: 'error' })
    expect(asked).toEqual([A, B])
    expect(totals.retries).toBe(1)
  })

  it('a success on the retry is the answer', async () => {
    const { run, asked, totals } = failoverSetup({ [A]: () => ok(502), [B]: () => ok(200) })
    expect(await run()).toMatchObject({ kind: 'response', failure: false })
    expect(asked).toEqual([A, B])
    expect(totals.retries).toBe(1)
  })

  it('a non-idempotent method is never retried', async () => {
    const { run, asked } = failoverSetup({ [A]: () => ok(503), [B]: () => ok() }, {}, 'POST')
    expect(await run()).toMatchObject({ kind: 'response', failure: true })
    expect(asked).toEqual([A])
  })

  it('refused targets are passed over without using up the attempt; of two refusals the one that clears sooner is the outcome', async () => {
    const open = refusal('open', new CircuitOpenError(A, 5_000))
    const full = refusal('bulkhead', new BulkheadRejectedError(B, 1, 0))
    const { run, asked, totals } = failoverSetup({ [A]: () => open, [B]: () => full, [C]: () => refusal('open', new CircuitOpenError(C, 500)) })
    const outcome = await run()
    expect(outcome).toMatchObject({ kind: 'refused', reason: 'open' })
    expect((outcome as { error: CircuitOpenError }).error.key).toBe(C)
    expect(asked).toEqual([A, B, C])
    expect(totals.retries).toBe(0)
  })

  it('a failure that reached the network wins over a later refusal', async () => {
    const { run, asked } = failoverSetup({ [A]: () => networkError(), [B]: () => refusal('open', new CircuitOpenError(B, 10)), [C]: () => refusal('open', new CircuitOpenError(C, 10)) })
    expect(await run()).toMatchObject({ kind: 'error' })
    expect(asked).toEqual([A, B, C])
  })

  it('retries only within the retry budget (10 + 20% of calls)', async () => {
    const { run, asked, totals } = failoverSetup({ [A]: () => ok(503), [B]: () => ok() })
    let served = 0
    for (let i = 0; i < 30; i++) if ((await run()).kind === 'response' && asked.at(-1) === B) served++
    // 30 calls recorded: at most 10 + 0.2 × 30 retries.
    expect(totals.retries).toBe(16)
    expect(served).toBe(16)
  })

  it('hedging: an unanswered GET also goes to the next target after the delay; the winner aborts the other', async () => {
    let slowSignal: AbortSignal | undefined
    const { run, asked, totals } = failoverSetup(
      {
        [A]: (signal) => ((slowSignal = signal), new Promise<Outcome>((resolve) => signal!.addEventListener('abort', () => resolve({ kind: 'aborted', reason: signal!.reason })))),
        [B]: () => ok(),
      },
      { hedge: { delay: 50, budget: false } },
    )
    const pending = run()
    await vi.advanceTimersByTimeAsync(49)
    expect(asked).toEqual([A])
    await vi.advanceTimersByTimeAsync(1)
    expect(await pending).toMatchObject({ kind: 'response', failure: false })
    expect(asked).toEqual([A, B])
    expect(slowSignal?.aborted).toBe(true)
    expect(totals).toMatchObject({ hedges: 1, retries: 0 })
  })

  it('hedging: a hedge refused at its target gates never replaces the failure the first target answered', async () => {
    const later = <T>(ms: number, value: () => T) => new Promise<T>((resolve) => setTimeout(() => resolve(value()), ms))
    const { run, asked } = failoverSetup(
      { [A]: () => later(100, () => ok(503)), [B]: () => later(100, () => refusal('bulkhead', new BulkheadRejectedError(B, 1, 0))) },
      { hedge: { delay: 50, budget: false } },
    )
    const outcome = run()
    await vi.advanceTimersByTimeAsync(200)
    expect(asked).toEqual([A, B])
    expect(await outcome).toMatchObject({ kind: 'response', failure: true })
    expect(((await outcome) as { response: Response }).response.status).toBe(503)
  })

  it('no hedge to a target that is not healthy, nor for a method other than GET', async () => {
    const slow = () => new Promise<Outcome>((resolve) => setTimeout(() => resolve(ok()), 100))
    const unhealthy = failoverSetup({ [A]: slow, [B]: () => ok() }, { hedge: { delay: 10, budget: false }, healthy: (target) => target.key !== B })
    const head = failoverSetup({ [A]: slow, [B]: () => ok() }, { hedge: { delay: 10, budget: false } }, 'HEAD')
    const pending = [unhealthy.run(), head.run()]
    await vi.advanceTimersByTimeAsync(100)
    await Promise.all(pending)
    expect(unhealthy.asked).toEqual([A])
    expect(head.asked).toEqual([A])
    expect(unhealthy.totals.hedges + head.totals.hedges).toBe(0)
  })
})
