import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import fc from 'fast-check'
import { normalizeOptions } from '../src/options.js'
import { compose } from '../src/stages/pipeline.js'
import { Keys } from '../src/stages/keys.js'
import { bulkheadStage } from '../src/stages/bulkhead.js'
import { hedgeStage } from '../src/stages/hedge.js'
import { latencyStage } from '../src/stages/latency.js'
import { lazyHedgeStage, lazyThrottleStage } from '../src/stages/lazy.js'
import { transportStage } from '../src/stages/transport.js'
import type { Outcome, Stage } from '../src/stages/types.js'
import type { ResilienceSnapshot, ResilientFetchOptions } from '../src/types.js'
import { controlledTransport, flush } from './helpers.js'
import { testCall, testRuntime } from './stages/helpers.js'

const KEY = 'https://a.test'

beforeEach(() => {
  vi.useFakeTimers({ now: 1_000_000 })
})
afterEach(() => {
  vi.useRealTimers()
})

/** The hedge wrapper over the bulkhead and latency gates and the real transport stage, on a controlled transport. */
function setup(options: ResilientFetchOptions = {}, cacheLocks = false) {
  const c = controlledTransport()
  const o = normalizeOptions({ fetch: c.fetch, retry: false, breaker: false, fallback: false, timeout: false, hedge: { delay: 100, budget: false }, ...options })
  const t = testRuntime(Date.now)
  const events: { type: string; detail: unknown }[] = []
  t.runtime.events.emit = (type, detail) => void events.push({ type, detail })
  const latency = latencyStage()
  const stages = [hedgeStage(o.hedge, t.runtime, cacheLocks), bulkheadStage(o.bulkhead, t.runtime), latency].filter((s) => s !== undefined) as Stage[]
  const chain = compose(stages, transportStage(o, t.runtime), Date.now)
  const keys = new Keys(chain.stages, 10)
  const call = (parts: Parameters<typeof testCall>[0] = {}) => testCall({ states: keys.get(KEY).states, ...parts })
  const snapshot = () => {
    const s: ResilienceSnapshot = { at: 0, breakers: [], bulkheads: [], totals: t.totals, latencies: [] }
    const entry = keys.get(KEY)
    chain.stages.forEach((stage, i) => stage.report?.(entry.states[i], s, 0))
    return s
  }
  return { c, chain, call, totals: t.totals, events, snapshot }
}

describe('hedge stage', () => {
  it('a late first attempt gets a hedge through the gates; the hedge wins, is marked hedged, the first is aborted', async () => {
    const { c, chain, call, totals, events, snapshot } = setup()
    const done = chain.run(call())
    await flush()
    expect(c.pending).toHaveLength(1)
    vi.advanceTimersByTime(100)
    await flush()
    expect(c.pending).toHaveLength(2)
    expect(snapshot().bulkheads[0]).toMatchObject({ active: 2 })
    c.pending[1]!.respond(200)
    const outcome = (await done) as Extract<Outcome, { kind: 'response' }>
    expect(outcome).toMatchObject({ kind: 'response', hedged: true, failure: false })
    expect(c.calls[0]!.signal!.aborted).toBe(true)
    await flush()
    expect(c.pending).toHaveLength(0)
    expect(totals.hedges).toBe(1)
    expect(events.filter((e) => e.type === 'hedge')).toEqual([{ type: 'hedge', detail: { key: KEY, attempt: 2, delay: 100 } }])
    expect(snapshot().bulkheads[0]).toMatchObject({ active: 0, queued: 0 })
    // The aborted first attempt says nothing about latency: only the winner's is recorded.
    expect(snapshot().latencies).toMatchObject([{ key: KEY, count: 1 }])
  })

  it('only hedge.methods, never a one-shot body, never when the call opts out; resilience.hedge: true opts a method in', async () => {
    const { c, chain, call, totals } = setup()
    const stream = new ReadableStream()
    const runs = [
      chain.run(call({ method: 'POST' })),
      chain.run(call({ init: { method: 'PUT', body: stream, duplex: 'half' } as RequestInit, method: 'PUT', options: { hedge: true } })),
      chain.run(call({ options: { hedge: false } })),
    ]
    vi.advanceTimersByTime(1_000)
    await flush()
    expect(c.pending).toHaveLength(3)
    expect(totals.hedges).toBe(0)
    for (const p of [...c.pending]) p.respond(200)
    await Promise.all(runs)
    const opted = chain.run(call({ method: 'POST', options: { hedge: true } }))
    vi.advanceTimersByTime(100)
    await flush()
    expect(c.pending).toHaveLength(2)
    c.pending[0]!.respond(200)
    await opted
  })

  it("a percentile delay waits for 20 samples of the key, then hedges at the key's p95", async () => {
    const { c, chain, call, totals } = setup({ hedge: { delay: 'p95', budget: false } })
    for (let i = 0; i < 20; i++) {
      const run = chain.run(call())
      await flush()
      vi.advanceTimersByTime(i < 18 ? 10 : 50)
      c.pending[0]!.respond(200)
      await run
    }
    expect(totals.hedges).toBe(0)
    const run = chain.run(call())
    await flush()
    vi.advanceTimersByTime(49)
    await flush()
    expect(c.pending).toHaveLength(1)
    vi.advanceTimersByTime(1)
    await flush()
    expect(c.pending).toHaveLength(2)
    expect(totals.hedges).toBe(1)
    c.pending[0]!.respond(200)
    expect(await run).toMatchObject({ kind: 'response' })
    expect((await run as { hedged?: boolean }).hedged).toBeUndefined()
  })

  it('the budget allows min + ratio × calls hedges per key over 10 s', async () => {
    const { c, chain, call, totals } = setup({ hedge: { delay: 100, budget: { min: 2, ratio: 0 } } })
    for (let i = 0; i < 4; i++) {
      const run = chain.run(call())
      vi.advanceTimersByTime(100)
      await flush()
      for (const p of [...c.pending]) p.respond(200)
      await run
    }
    expect(totals.hedges).toBe(2)
    vi.advanceTimersByTime(10_000)
    const run = chain.run(call())
    vi.advanceTimersByTime(100)
    await flush()
    expect(totals.hedges).toBe(3)
    for (const p of [...c.pending]) p.respond(200)
    await run
  })

  it('a full bulkhead refuses the hedge; the first attempt still answers the call', async () => {
    const { c, chain, call, totals } = setup({ bulkhead: { maxConcurrent: 1, maxQueue: 0 } })
    const run = chain.run(call())
    vi.advanceTimersByTime(100)
    await flush()
    expect(totals.hedges).toBe(1)
    expect(c.pending).toHaveLength(1)
    c.pending[0]!.respond(200)
    expect(await run).toMatchObject({ kind: 'response', failure: false })
  })

  it('a caller abort aborts every attempt and ends the call as aborted, holding no permit', async () => {
    const { c, chain, call, snapshot } = setup()
    const controller = new AbortController()
    const run = chain.run(call({ signal: controller.signal }))
    vi.advanceTimersByTime(100)
    await flush()
    expect(c.pending).toHaveLength(2)
    controller.abort('bye')
    expect(await run).toEqual({ kind: 'aborted', reason: 'bye' })
    expect(c.pending).toHaveLength(0)
    expect(snapshot().bulkheads[0]).toMatchObject({ active: 0, queued: 0 })
    expect(vi.getTimerCount()).toBe(0)
  })
})

describe('hedges where the HTTP cache locks (browsers)', () => {
  /** What one call of `input` and `init` sent: each attempt's cache mode as fetch reads it (init's, else the Request's), and its init. */
  async function sent(cacheLocks: boolean, input: RequestInfo, init?: RequestInit) {
    const { c, chain, call } = setup({}, cacheLocks)
    const made = call({ input, init, url: typeof input === 'string' ? input : input.url })
    const done = chain.run(made)
    await flush()
    vi.advanceTimersByTime(100)
    await flush()
    expect(c.pending).toHaveLength(2)
    c.pending[1]!.respond(200)
    expect(await done).toMatchObject({ kind: 'response', hedged: true })
    const modes = c.mock.mock.calls.map(([input, init]) => new Request(input, init).cache)
    // The hedge is the same call: its attempts count there.
    expect(made.attempts).toBe(2)
    return { modes, inits: c.mock.mock.calls.map(([, init]) => init) }
  }

  const TARGET = 'https://a.test/x'
  const CASES: [string, () => [RequestInfo, RequestInit?], RequestCache, RequestCache][] = [
    ['a URL', () => [TARGET], 'default', 'no-store'],
    ["init cache 'no-cache'", () => [TARGET, { cache: 'no-cache' }], 'no-cache', 'no-store'],
    ["init cache 'reload'", () => [TARGET, { cache: 'reload' }], 'reload', 'no-store'],
    ["init cache 'force-cache' (a hedge is due only when no copy answered the first)", () => [TARGET, { cache: 'force-cache' }], 'force-cache', 'no-store'],
    ["init cache 'no-store' (the caller's, kept)", () => [TARGET, { cache: 'no-store' }], 'no-store', 'no-store'],
    ['a Request', () => [new Request(TARGET)], 'default', 'no-store'],
    ["a Request with cache 'force-cache'", () => [new Request(TARGET, { cache: 'force-cache' })], 'force-cache', 'no-store'],
    ["a Request with cache 'no-store' (kept)", () => [new Request(TARGET, { cache: 'no-store' })], 'no-store', 'no-store'],
    ["a Request with cache 'no-store', init cache 'default' (init's wins, as in fetch)", () => [new Request(TARGET, { cache: 'no-store' }), { cache: 'default' }], 'default', 'no-store'],
    ["a Request with cache 'only-if-cached' (never the network: kept)", () => [new Request(TARGET, { cache: 'only-if-cached', mode: 'same-origin' })], 'only-if-cached', 'only-if-cached'],
  ]

  it("a hedge goes with cache 'no-store', but where the caller's mode is 'no-store' or 'only-if-cached'; the first attempt as the caller sent it; elsewhere (Node, Deno, Bun, workerd) the hedge goes as the first", async () => {
    for (const [name, args, first, hedge] of CASES) {
      expect({ name, modes: (await sent(true, ...args())).modes }).toEqual({ name, modes: [first, hedge] })
      expect({ name, modes: (await sent(false, ...args())).modes }).toEqual({ name, modes: [first, first] })
    }
    // The rest of the caller's init goes with the hedge.
    const { inits } = await sent(true, TARGET, { headers: { 'x-a': '1' }, credentials: 'include', cache: 'no-cache' })
    expect(inits[1]).toMatchObject({ headers: { 'x-a': '1' }, credentials: 'include', cache: 'no-store' })
    expect(inits[0]).toMatchObject({ headers: { 'x-a': '1' }, credentials: 'include', cache: 'no-cache' })
  })
})

describe('hedging, property', () => {
  it('never more than maxHedges + 1 attempts in flight per call, and never a leaked permit', async () => {
    const scenario = fc.record({
      maxHedges: fc.integer({ min: 1, max: 3 }),
      maxConcurrent: fc.integer({ min: 1, max: 4 }),
      calls: fc.array(
        fc.record({
          // Per attempt of the call: when it answers (ms) and how (status, or a network error).
          answers: fc.array(fc.record({ after: fc.integer({ min: 0, max: 400 }), status: fc.constantFrom(200, 200, 503, 0) }), { minLength: 4, maxLength: 4 }),
          abortAfter: fc.option(fc.integer({ min: 0, max: 400 }), { nil: undefined }),
        }),
        { minLength: 1, maxLength: 4 },
      ),
    })
    await fc.assert(
      fc.asyncProperty(scenario, async ({ maxHedges, maxConcurrent, calls }) => {
        const { c, chain, call, snapshot } = setup({ hedge: { delay: 50, maxHedges, budget: false }, bulkhead: { maxConcurrent, maxQueue: 8 } })
        const inFlight = new Map<number, number>()
        let worst = 0
        const runs = calls.map((spec, i) => {
          const controller = new AbortController()
          if (spec.abortAfter !== undefined) setTimeout(() => controller.abort('bye'), spec.abortAfter)
          return chain.run(call({ url: `${KEY}/${i}`, input: `${KEY}/${i}`, signal: controller.signal }))
        })
        // Answer each request when its time comes; count attempts in flight per call.
        const answered = new Set<unknown>()
        for (let step = 0; step < 200; step++) {
          await flush(10)
          inFlight.clear()
          for (const p of c.pending) {
            const i = Number(p.url.split('/').pop())
            inFlight.set(i, (inFlight.get(i) ?? 0) + 1)
            worst = Math.max(worst, inFlight.get(i)!)
          }
          for (const p of [...c.pending]) {
            if (answered.has(p)) continue
            const i = Number(p.url.split('/').pop())
            const n = c.calls.filter((q) => q.url === p.url).indexOf(p)
            const answer = calls[i]!.answers[Math.min(n, 3)]!
            answered.add(p)
            setTimeout(() => (answer.status === 0 ? p.fail() : p.respond(answer.status)), answer.after)
          }
          vi.advanceTimersByTime(10)
        }
        await vi.runAllTimersAsync()
        await Promise.all(runs)
        expect(worst).toBeLessThanOrEqual(maxHedges + 1)
        expect(snapshot().bulkheads[0]).toMatchObject({ active: 0, queued: 0 })
      }),
      { numRuns: 60 },
    )
  })
})

describe('hedge stage, loaded as its own chunk', () => {
  it('a call made before the chunk arrives waits for it, then hedges like any other', async () => {
    const c = controlledTransport()
    const o = normalizeOptions({ fetch: c.fetch, retry: false, breaker: false, fallback: false, timeout: false, hedge: { delay: 100, budget: false } })
    const t = testRuntime(Date.now)
    const latency = latencyStage()
    const stages = [lazyHedgeStage(o.hedge, t.runtime)!, bulkheadStage(o.bulkhead, t.runtime)!, latency] as Stage[]
    const chain = compose(stages, transportStage(o, t.runtime), Date.now)
    const keys = new Keys(chain.stages, 10)
    const run = chain.run(testCall({ states: keys.get(KEY).states }))
    await vi.dynamicImportSettled()
    await flush()
    vi.advanceTimersByTime(100)
    await flush()
    expect(c.pending).toHaveLength(2)
    c.pending[1]!.respond(200)
    expect(await run).toMatchObject({ kind: 'response', hedged: true })
    expect(t.totals.hedges).toBe(1)
  })

  it('off: no stage at all', () => {
    expect(lazyHedgeStage(false, testRuntime().runtime)).toBeUndefined()
    expect(lazyThrottleStage(false, testRuntime().runtime)).toBeUndefined()
  })
})
