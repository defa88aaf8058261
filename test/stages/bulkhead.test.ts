import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { normalizeBulkhead, normalizeTimeout, type NormalizedBulkhead } from '../../src/options.js'
import { BulkheadRejectedError, TimeoutError } from '../../src/errors.js'
import type { Bulkhead, Lease } from '../../src/bulkhead.js'
import { bulkheadStage } from '../../src/stages/bulkhead.js'
import type { Attempt } from '../../src/stages/types.js'
import { ok, testCall, testRuntime } from './helpers.js'

function setup(options: object) {
  const t = testRuntime(Date.now)
  const stage = bulkheadStage(normalizeBulkhead(options) as NormalizedBulkhead, t.runtime)!
  const bulkhead = stage.forKey!('https://a.test') as Bulkhead
  return { ...t, stage, bulkhead }
}

const attempt = (parts: Parameters<typeof testCall>[0] = {}, signal?: AbortSignal): Attempt => ({ call: testCall(parts), signal, start: 0 })

beforeEach(() => void vi.useFakeTimers({ now: 1_000_000 }))
afterEach(() => void vi.useRealTimers())

describe('bulkhead stage', () => {
  it('admits at once while a permit is free; then queues; a settle hands the permit to the first waiter', async () => {
    const { stage, bulkhead } = setup({ maxConcurrent: 1, maxQueue: 5 })
    const first = stage.admit(bulkhead, attempt(), Date.now()) as Lease
    expect(first).toHaveProperty('until')
    const waiting = stage.admit(bulkhead, attempt(), Date.now())
    expect(waiting).toBeInstanceOf(Promise)
    expect(stage.busy!(bulkhead)).toBe(true)
    stage.settle(bulkhead, attempt(), first, ok(200))
    const second = (await waiting) as Lease
    expect(second).toHaveProperty('until')
    expect(bulkhead.active).toBe(1)
    // A permit given back twice counts once.
    stage.settle(bulkhead, attempt(), first, ok(200))
    expect(bulkhead.active).toBe(1)
    stage.settle(bulkhead, attempt(), second, ok(500))
    expect(bulkhead.active).toBe(0)
    expect(stage.busy!(bulkhead)).toBe(false)
  })

  it('a full queue refuses with BulkheadRejectedError and a reject event', async () => {
    const { stage, bulkhead, seen } = setup({ maxConcurrent: 1, maxQueue: 0 })
    stage.admit(bulkhead, attempt(), Date.now())
    const refused = await stage.admit(bulkhead, attempt(), Date.now())
    expect(refused).toMatchObject({ kind: 'refused', reason: 'bulkhead' })
    expect((refused as { error: unknown }).error).toBeInstanceOf(BulkheadRejectedError)
    expect(seen).toEqual([{ type: 'reject', detail: { key: 'https://a.test', reason: 'bulkhead' } }])
  })

  it('the wait ends at the total deadline (a deadline refusal) or on abort (the reason)', async () => {
    const { stage, bulkhead, seen } = setup({ maxConcurrent: 1, maxQueue: 5, queueTimeout: 5_000 })
    stage.admit(bulkhead, attempt(), Date.now())
    const timeout = normalizeTimeout({ attempt: false, total: 300 })
    const cut = stage.admit(bulkhead, attempt({ timeout, deadline: Date.now() + 300 }), Date.now()) as Promise<unknown>
    const controller = new AbortController()
    const left = stage.admit(bulkhead, attempt({}, controller.signal), Date.now(), ) as Promise<unknown>
    const reason = new Error('gone')
    controller.abort(reason)
    expect(await left).toEqual({ kind: 'aborted', reason })
    await vi.advanceTimersByTimeAsync(300)
    const refused = (await cut) as { reason: string; error: TimeoutError }
    expect(refused.reason).toBe('deadline')
    expect(refused.error).toMatchObject({ scope: 'total', timeout: 300 })
    expect(bulkhead.queued).toBe(0)
    expect(bulkhead.active).toBe(1)
    // Neither is the bulkhead's refusal: no reject event.
    expect(seen).toEqual([])
  })

  it('reports its snapshot', () => {
    const { stage, bulkhead } = setup({ maxConcurrent: 2 })
    stage.admit(bulkhead, attempt(), Date.now())
    const snap = { at: 0, breakers: [], bulkheads: [], totals: {} } as never as Parameters<NonNullable<typeof stage.report>>[1]
    stage.report!(bulkhead, snap, 0)
    expect(snap.bulkheads).toEqual([{ key: 'https://a.test', active: 1, queued: 0, maxConcurrent: 2, maxQueue: 100, rejected: 0 }])
  })

  it('an attempt whose signal aborted before it queued leaves at once with the abort, not at queueTimeout', async () => {
    const { stage, bulkhead } = setup({ maxConcurrent: 1, maxQueue: 5, queueTimeout: 1_000 })
    expect(stage.admit(bulkhead, attempt(), Date.now())).toHaveProperty('until')
    const reason = new Error('user left')
    const waiting = stage.admit(bulkhead, attempt({}, AbortSignal.abort(reason)), Date.now())
    await vi.advanceTimersByTimeAsync(0)
    expect(await Promise.race([waiting, 'still queued'])).toEqual({ kind: 'aborted', reason })
    expect(bulkhead.queued).toBe(0)
    expect(vi.getTimerCount()).toBe(0)
  })

  describe('a permit or a wait whose request context went (workerd drops its attempt, its timer and its release)', () => {
    /** An attempt's deadlines: `attempt` ms, and `left` ms to the call's total deadline (of `total`). */
    const deadlines = (attempt: number | false, total: number | false, left = total) => ({ timeout: normalizeTimeout({ attempt, total }), deadline: left === false ? undefined : Date.now() + left })

    it('a permit still held a second past its attempt deadline is taken back; its late release does nothing', async () => {
      const { stage, bulkhead } = setup({ maxConcurrent: 1, maxQueue: 0 })
      const lost = stage.admit(bulkhead, attempt(deadlines(2_000, 30_000)), Date.now()) as Lease
      vi.advanceTimersByTime(3_000)
      expect(await stage.admit(bulkhead, attempt(), Date.now())).toMatchObject({ kind: 'refused', reason: 'bulkhead' })
      vi.advanceTimersByTime(1)
      const next = stage.admit(bulkhead, attempt(), Date.now()) as Lease
      expect(next).toHaveProperty('until')
      expect(bulkhead.active).toBe(1)
      stage.settle(bulkhead, attempt(), lost, ok(200))
      expect(bulkhead.active).toBe(1)
      stage.settle(bulkhead, attempt(), next, ok(200))
      expect(bulkhead.active).toBe(0)
    })

    it('each permit is taken back at its own time: one of a short attempt while one of a long attempt is still held', async () => {
      const { stage, bulkhead } = setup({ maxConcurrent: 2, maxQueue: 0 })
      stage.admit(bulkhead, attempt(deadlines(5_000, 30_000)), Date.now())
      stage.admit(bulkhead, attempt(deadlines(1_000, 30_000)), Date.now())
      vi.advanceTimersByTime(2_000)
      expect(await stage.admit(bulkhead, attempt(), Date.now())).toMatchObject({ kind: 'refused' })
      vi.advanceTimersByTime(1)
      expect(stage.admit(bulkhead, attempt(deadlines(5_000, 30_000)), Date.now())).toHaveProperty('until')
      expect(bulkhead.active).toBe(2)
      // The long one is held until 6 000 ms, the one just taken until 8 001 ms.
      vi.advanceTimersByTime(4_000)
      expect(bulkhead.snapshot()).toMatchObject({ active: 1 })
      vi.advanceTimersByTime(2_001)
      expect(bulkhead.snapshot()).toMatchObject({ active: 0 })
    })

    it("the bound is the call's total deadline when that comes first, and none without a deadline", async () => {
      const { stage, bulkhead } = setup({ maxConcurrent: 1, maxQueue: 0 })
      // A retry with 500 ms left of its total deadline: its attempt may run 500 ms, not 2 000.
      stage.admit(bulkhead, attempt(deadlines(2_000, 30_000, 500)), Date.now())
      vi.advanceTimersByTime(1_501)
      expect(stage.admit(bulkhead, attempt(deadlines(false, false)), Date.now())).toHaveProperty('until', Infinity)
      vi.advanceTimersByTime(1_000_000)
      expect(await stage.admit(bulkhead, attempt(), Date.now())).toMatchObject({ kind: 'refused', reason: 'bulkhead' })
    })

    it('a waiter whose context went gets a permit in its turn, taken back the same way: then the next live waiter has it', async () => {
      const { stage, bulkhead } = setup({ maxConcurrent: 1, maxQueue: 5, queueTimeout: 10_000 })
      stage.admit(bulkhead, attempt(deadlines(1_000, 30_000)), Date.now())
      // A waiter whose context goes: its own timer never fires (cleared here, as workerd drops it), nor its attempt.
      void stage.admit(bulkhead, attempt(deadlines(1_000, 30_000)), Date.now())
      vi.clearAllTimers()
      const live = stage.admit(bulkhead, attempt(deadlines(1_000, 30_000)), Date.now()) as Promise<unknown>
      let admitted = false
      void live.then(() => (admitted = true))
      // 2 001 ms on, the first permit is lost: the gone waiter gets it (and never uses it).
      await vi.advanceTimersByTimeAsync(2_001)
      expect(stage.busy!(bulkhead)).toBe(true)
      expect([bulkhead.active, bulkhead.queued, admitted]).toEqual([1, 1, false])
      // A second past that permit's own bound, it is taken back too, and the live waiter has it.
      await vi.advanceTimersByTimeAsync(2_000)
      expect(stage.busy!(bulkhead)).toBe(true)
      expect(admitted).toBe(false)
      await vi.advanceTimersByTimeAsync(1)
      expect(stage.busy!(bulkhead)).toBe(true)
      expect(await live).toHaveProperty('until')
      expect([bulkhead.active, bulkhead.queued]).toEqual([1, 0])
    })

    it('a bulkhead whose permits were all lost is not busy once they are taken back (its key may be dropped)', () => {
      const { stage, bulkhead } = setup({ maxConcurrent: 2 })
      stage.admit(bulkhead, attempt(deadlines(1_000, 30_000)), Date.now())
      stage.admit(bulkhead, attempt(deadlines(1_000, 30_000)), Date.now())
      expect(stage.busy!(bulkhead)).toBe(true)
      vi.advanceTimersByTime(2_001)
      expect(stage.busy!(bulkhead)).toBe(false)
      expect(bulkhead.snapshot()).toMatchObject({ active: 0, queued: 0 })
    })
  })
})
