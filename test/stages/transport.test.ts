import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { normalizeOptions, normalizeTimeout } from '../../src/options.js'
import { TimeoutError } from '../../src/errors.js'
import { transportStage } from '../../src/stages/transport.js'
import type { Attempt, Call, Outcome } from '../../src/stages/types.js'
import type { ResilientFetchOptions } from '../../src/types.js'
import { controlledTransport, flush } from '../helpers.js'
import { testCall, testRuntime } from './helpers.js'

function setup(fetch: typeof globalThis.fetch, options: ResilientFetchOptions = {}) {
  const t = testRuntime(Date.now)
  const stage = transportStage(normalizeOptions({ fetch, ...options }), t.runtime)
  return { ...t, stage }
}

const attempt = (call: Call, signal = call.signal): Attempt => ({ call, signal, start: Date.now() })

beforeEach(() => void vi.useFakeTimers({ now: 1_000_000 }))
afterEach(() => void vi.useRealTimers())

describe('transport stage (attempt deadline + transport)', () => {
  it('is named as the two innermost stages', () => {
    expect(setup(controlledTransport().fetch).stage.names).toEqual(['attempt deadline', 'transport'])
  })

  it('judges a response by the default rule, counts the attempt and reports success or failure', async () => {
    const t = controlledTransport()
    const { stage, seen } = setup(t.fetch)
    const call = testCall()
    const first = stage.run(attempt(call))
    await flush()
    vi.advanceTimersByTime(40)
    t.pending[0]!.respond(503)
    expect(await first).toMatchObject({ kind: 'response', failure: true, duration: 40 })
    const second = stage.run(attempt(call))
    await flush()
    t.pending[0]!.respond(404)
    expect(await second).toMatchObject({ kind: 'response', failure: false })
    expect(call.attempts).toBe(2)
    expect(seen.map((e) => `${e.type}:${e.detail.status}`)).toEqual(['failure:503', 'success:404'])
  })

  it('the attempt deadline aborts the request and ends as our TimeoutError, whatever the transport rejects with', async () => {
    const signals: AbortSignal[] = []
    const fetch = ((_: unknown, init?: RequestInit) =>
      new Promise((_resolve, reject) => {
        signals.push(init!.signal!)
        init!.signal!.addEventListener('abort', () => reject(new Error('plain')))
      })) as typeof globalThis.fetch
    const { stage, totals, seen } = setup(fetch)
    const outcome = stage.run(attempt(testCall({ timeout: normalizeTimeout({ attempt: 100, total: false }) })))
    await vi.advanceTimersByTimeAsync(100)
    const result = await outcome
    expect(signals[0]!.aborted).toBe(true)
    expect(result).toMatchObject({ kind: 'timeout', failure: true })
    expect((result as { error: unknown }).error).toBeInstanceOf(TimeoutError)
    expect((result as { error: TimeoutError }).error).toMatchObject({ scope: 'attempt', timeout: 100 })
    expect(totals.timeouts).toBe(1)
    expect(seen[0]).toEqual({ type: 'timeout', detail: { key: 'https://a.test', timeout: 100, scope: 'attempt' } })
  })

  it('reports a timeout a gate met before the transport (timeout) as its own: counted once, with the same event', () => {
    const { stage, totals, seen } = setup(controlledTransport().fetch)
    stage.timeout!('https://a.test', new TimeoutError(300, 'total'))
    expect(totals.timeouts).toBe(1)
    expect(seen).toEqual([{ type: 'timeout', detail: { key: 'https://a.test', timeout: 300, scope: 'total' } }])
  })

  it('a nearer total deadline arms the timer with scope total', async () => {
    const t = controlledTransport()
    const { stage } = setup(t.fetch)
    const call = testCall({ timeout: normalizeTimeout({ attempt: 1_000, total: 5_000 }), deadline: Date.now() + 200 })
    const outcome = stage.run(attempt(call))
    await vi.advanceTimersByTimeAsync(200)
    expect(((await outcome) as { error: TimeoutError }).error).toMatchObject({ scope: 'total', timeout: 5_000 })
  })

  it("the attempt's signal aborting ends it as aborted with the reason, not as a failure", async () => {
    const t = controlledTransport()
    const { stage, seen } = setup(t.fetch)
    const controller = new AbortController()
    const outcome = stage.run(attempt(testCall({ timeout: normalizeTimeout({ attempt: 1_000, total: false }) }), controller.signal))
    await flush()
    const reason = new Error('lost')
    controller.abort(reason)
    expect(await outcome).toEqual({ kind: 'aborted', reason })
    expect(seen).toEqual([])
  })

  it("a caller signal that aborted before the attempt reached the transport (while it waited at a gate) sends it aborted: it ends as the caller's abort", async () => {
    const t = controlledTransport()
    const { stage, seen } = setup(t.fetch)
    const controller = new AbortController()
    const reason = new Error('gone')
    controller.abort(reason)
    const call = testCall({ signal: controller.signal, timeout: normalizeTimeout({ attempt: 1_000, total: false }) })
    expect(await stage.run(attempt(call))).toEqual({ kind: 'aborted', reason })
    expect(t.calls).toEqual([])
    expect(seen).toEqual([])
  })

  it("a hedged attempt's deadline aborts the attempt's own controller with the TimeoutError: no second controller follows it", async () => {
    const signals: AbortSignal[] = []
    const fetch = ((_: unknown, init?: RequestInit) =>
      new Promise((_resolve, reject) => {
        signals.push(init!.signal!)
        init!.signal!.addEventListener('abort', () => reject(init!.signal!.reason))
      })) as typeof globalThis.fetch
    const { stage } = setup(fetch)
    const own = new AbortController()
    const call = testCall({ timeout: normalizeTimeout({ attempt: 100, total: false }) })
    const outcome = stage.run({ call, signal: own.signal, controller: own, start: Date.now() })
    await flush()
    expect(signals).toEqual([own.signal])
    await vi.advanceTimersByTimeAsync(100)
    expect(own.signal.reason).toBeInstanceOf(TimeoutError)
    expect(await outcome).toMatchObject({ kind: 'timeout', error: own.signal.reason })
  })

  it('ends the attempt itself: its outcome goes through attempt.end, also when something throws where it should answer', async () => {
    const ended: string[] = []
    const end = (outcome: Outcome) => (ended.push(outcome.kind), { ...outcome, ended: true }) as unknown as Outcome
    const { stage } = setup(async () => new Response('x'))
    expect(stage.ends).toBe(true)
    expect(await stage.run({ ...attempt(testCall()), end })).toMatchObject({ kind: 'response', ended: true })
    // A custom fetch resolving with no Response, with a caller signal: the caller's mistake, refused.
    const odd = setup((async () => null) as unknown as typeof globalThis.fetch)
    const caller = new AbortController()
    const call = testCall({ signal: caller.signal, timeout: normalizeTimeout({ attempt: 1_000, total: false }) })
    const outcome = await odd.stage.run({ ...attempt(call, caller.signal), end })
    expect(outcome).toMatchObject({ kind: 'refused', reason: 'request', ended: true })
    expect(ended).toEqual(['response', 'refused'])
    expect(vi.getTimerCount()).toBe(0)
  })

  it('a request fetch cannot build is refused as the caller\'s mistake; a throwing isFailure too', async () => {
    const fetch = (async (input: RequestInfo | URL, init?: RequestInit) => new Request(input, init) && new Response('x')) as typeof globalThis.fetch
    const { stage } = setup(fetch)
    const bad = await stage.run(attempt(testCall({ init: { body: 'x' } })))
    expect(bad).toMatchObject({ kind: 'refused', reason: 'request' })
    const boom = new Error('bad rule')
    const judged = setup(async () => new Response('x'), {
      isFailure: () => {
        throw boom
      },
    })
    expect(await judged.stage.run(attempt(testCall()))).toEqual({ kind: 'refused', reason: 'request', error: boom })
  })

  it('a custom isFailure decides; a network error goes to it with the duration', async () => {
    const isFailure = vi.fn((o: { response?: Response }) => o.response?.status === 404)
    const { stage } = setup(async () => new Response('x', { status: 404 }), { isFailure })
    expect(await stage.run(attempt(testCall()))).toMatchObject({ kind: 'response', failure: true })
    const failing = setup(async () => Promise.reject(new TypeError('down')), { isFailure })
    expect(await failing.stage.run(attempt(testCall()))).toMatchObject({ kind: 'error', failure: false })
    expect(isFailure).toHaveBeenLastCalledWith({ error: new TypeError('down'), duration: 0 })
  })

  it('a throwing isFailure: the body nobody will read is cancelled', async () => {
    let cancelled = false
    const body = new ReadableStream({ cancel: () => void (cancelled = true) })
    const { stage } = setup(async () => new Response(body), {
      isFailure: () => {
        throw new Error('bad rule')
      },
    })
    expect(await stage.run(attempt(testCall()))).toMatchObject({ kind: 'refused', reason: 'request' })
    await Promise.resolve()
    expect(cancelled).toBe(true)
  })
})
