import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { normalizeBulkhead, normalizeTimeout, type NormalizedBulkhead } from '../../src/options.js'
import { BulkheadRejectedError, TimeoutError } from '../../src/errors.js'
import type { Bulkhead } from '../../src/bulkhead.js'
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
    expect(stage.admit(bulkhead, attempt(), Date.now())).toBe(true)
    const waiting = stage.admit(bulkhead, attempt(), Date.now())
    expect(waiting).toBeInstanceOf(Promise)
    expect(stage.busy!(bulkhead)).toBe(true)
    stage.settle(bulkhead, attempt(), true, ok(200))
    expect(await waiting).toBe(true)
    expect(bulkhead.active).toBe(1)
    stage.settle(bulkhead, attempt(), true, ok(500))
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
    expect(stage.admit(bulkhead, attempt(), Date.now())).toBe(true)
    const reason = new Error('user left')
    const waiting = stage.admit(bulkhead, attempt({}, AbortSignal.abort(reason)), Date.now())
    await vi.advanceTimersByTimeAsync(0)
    expect(await Promise.race([waiting, 'still queued'])).toEqual({ kind: 'aborted', reason })
    expect(bulkhead.queued).toBe(0)
    expect(vi.getTimerCount()).toBe(0)
  })
})
