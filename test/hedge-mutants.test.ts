/**
 * Hedging behaviour pinned where mutation testing found it loose: a race asked for with an aborted signal sends
 * nothing; a caller abort ends a hedged call as an abort even after one attempt failed; the attempt that lost is aborted
 * with a reason that says so; an attempt waiting at a gate (after a failure too, or a retry's) holds the next hedge back
 * until it is sent (a retry's hedge is the call's third attempt).
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { race, hedgeStage, type HedgeRunner } from '../src/stages/hedge.js'
import { normalizeOptions } from '../src/options.js'
import { compose } from '../src/stages/pipeline.js'
import { Keys } from '../src/stages/keys.js'
import { bulkheadStage } from '../src/stages/bulkhead.js'
import { latencyStage } from '../src/stages/latency.js'
import { transportStage } from '../src/stages/transport.js'
import type { Stage } from '../src/stages/types.js'
import { createResilientFetch } from '../src/index.js'
import { controlledTransport, flush } from './helpers.js'
import { testCall, testRuntime } from './stages/helpers.js'

beforeEach(() => {
  vi.useFakeTimers({ now: 1_000_000 })
})
afterEach(() => {
  vi.useRealTimers()
})

const KEY = 'https://a.test'

/** The hedge wrapper over the bulkhead and latency gates and the real transport stage, on a controlled transport. */
function setup() {
  const c = controlledTransport()
  const o = normalizeOptions({ fetch: c.fetch, retry: false, breaker: false, fallback: false, timeout: false, hedge: { delay: 100, budget: false } })
  const t = testRuntime(Date.now)
  const latency = latencyStage()
  const stages = [hedgeStage(o.hedge, t.runtime, false), bulkheadStage(o.bulkhead, t.runtime), latency] as Stage[]
  const chain = compose(stages, transportStage(o, t.runtime), Date.now)
  const keys = new Keys(chain.stages, 10)
  const call = (parts: Parameters<typeof testCall>[0] = {}) => testCall({ states: keys.get(KEY).states, ...parts })
  return { c, chain, call, totals: t.totals }
}

describe('race', () => {
  it('asked for with a signal already aborted: rejects with its reason, starts no attempt, arms no timer', async () => {
    const attempts: number[] = []
    const runner: HedgeRunner<number> = {
      attempt: (n) => (attempts.push(n), new Promise<number>(() => {})),
      verdict: () => 'win',
      discard: () => {},
      mayHedge: () => true,
    }
    const controller = new AbortController()
    controller.abort('gone')
    await expect(race(runner, 100, 1, controller.signal)).rejects.toBe('gone')
    vi.advanceTimersByTime(1_000)
    expect(attempts).toEqual([])
    expect(vi.getTimerCount()).toBe(0)
  })

  it('after a failure, no hedge while another attempt waits at a gate; once it is sent, the hedge goes, reporting the whole wait', async () => {
    const attempts: { n: number; answer: (status: number) => void }[] = []
    const hedges: { n: number; delay: number }[] = []
    let reached = 0
    const runner: HedgeRunner<number> = {
      attempt: (n) => new Promise<number>((resolve) => attempts.push({ n, answer: resolve })),
      verdict: (status) => (status >= 500 ? 'lose' : 'win'),
      reached: () => reached,
      discard: () => {},
      mayHedge: (n, delay) => (hedges.push({ n, delay }), true),
    }
    const p = race(runner, 100, 3, undefined)
    reached = 1
    vi.advanceTimersByTime(100)
    reached = 2
    // The third attempt starts at 200 ms but waits at a gate (reached stays 2).
    vi.advanceTimersByTime(100)
    expect(attempts).toHaveLength(3)
    attempts[0]!.answer(503)
    await flush()
    // Two in flight, one of them sent: the fourth is not due while the third waits.
    vi.advanceTimersByTime(150)
    expect(attempts).toHaveLength(3)
    reached = 3
    vi.advanceTimersByTime(50)
    expect(attempts).toHaveLength(4)
    expect(hedges).toEqual([
      { n: 2, delay: 100 },
      { n: 3, delay: 100 },
      { n: 4, delay: 200 },
    ])
    attempts[3]!.answer(200)
    expect(await p).toMatchObject({ result: 200, attempt: 4 })
  })
})

describe('hedge stage', () => {
  it('is off unless asked for', () => {
    expect(hedgeStage(false, testRuntime().runtime)).toBeUndefined()
  })

  it('the attempt that lost is aborted with an AbortError saying another attempt won', async () => {
    const { c, chain, call } = setup()
    const done = chain.run(call())
    await flush()
    vi.advanceTimersByTime(100)
    await flush()
    c.pending[1]!.respond(200)
    expect(await done).toMatchObject({ kind: 'response', hedged: true })
    const reason = c.calls[0]!.signal!.reason as DOMException
    expect({ name: reason.name, message: reason.message }).toEqual({ name: 'AbortError', message: 'another attempt of this call won' })
  })

  it("a caller abort after one attempt failed ends the call as that abort, not with the failure", async () => {
    const { c, chain, call } = setup()
    const controller = new AbortController()
    const done = chain.run(call({ signal: controller.signal }))
    await flush()
    vi.advanceTimersByTime(100)
    await flush()
    expect(c.pending).toHaveLength(2)
    // The first attempt's 503 is kept while the hedge still runs; then the caller gives up.
    c.pending[0]!.respond(503)
    await flush()
    controller.abort('bye')
    expect(await done).toEqual({ kind: 'aborted', reason: 'bye' })
    expect(c.pending).toHaveLength(0)
  })
})

describe('a retried call', () => {
  it("gets no hedge while its retry waits in the bulkhead's queue; once sent and slow, its hedge is the call's third attempt", async () => {
    const c = controlledTransport()
    const rf = createResilientFetch({
      fetch: c.fetch,
      bulkhead: { maxConcurrent: 2, maxQueue: 1, queueTimeout: 10_000 },
      hedge: { delay: 50, budget: false },
      retry: { limit: 1, backoff: { base: 100, jitter: 'none' }, budget: false },
      breaker: false,
      fallback: false,
      timeout: false,
    })
    const hedges: unknown[] = []
    rf.addEventListener('hedge', (e) => hedges.push(e.detail))
    // A POST (never hedged) holds one permit; the GET's first attempt the other.
    const holder = rf('https://a.test/p1', { method: 'POST', body: 'x' })
    const call = rf('https://a.test/get')
    await vi.advanceTimersByTimeAsync(10)
    expect(c.pending.map((p) => p.url)).toEqual(['https://a.test/p1', 'https://a.test/get'])
    c.pending[1]!.respond(503)
    await vi.advanceTimersByTimeAsync(0)
    // During the backoff another POST takes the permit the GET gave back: the retry queues.
    const other = rf('https://a.test/p2', { method: 'POST', body: 'x' })
    await vi.advanceTimersByTimeAsync(400)
    expect(c.pending.map((p) => p.url)).toEqual(['https://a.test/p1', 'https://a.test/p2'])
    expect(rf.snapshot()).toMatchObject({ totals: { hedges: 0 }, bulkheads: [{ active: 2, queued: 1, rejected: 0 }] })
    expect(hedges).toEqual([])
    // Sent once a permit is free, and slow: hedged (the hedge queues for a permit in its turn).
    c.pending[0]!.respond(200)
    await vi.advanceTimersByTimeAsync(200)
    expect(hedges).toMatchObject([{ key: KEY, attempt: 3 }])
    expect(rf.snapshot()).toMatchObject({ totals: { hedges: 1 }, bulkheads: [{ active: 2, queued: 1 }] })
    c.pending.find((p) => p.url === 'https://a.test/get')!.respond(200)
    expect((await call).status).toBe(200)
    expect(rf.snapshot().totals).toMatchObject({ hedges: 1, retries: 1 })
    c.pending.find((p) => p.url === 'https://a.test/p2')!.respond(200)
    await Promise.all([holder, other])
  })
})
