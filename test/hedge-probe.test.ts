import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { normalizeOptions } from '../src/options.js'
import { compose } from '../src/stages/pipeline.js'
import { Keys } from '../src/stages/keys.js'
import { breakerStage } from '../src/stages/breaker.js'
import { bulkheadStage } from '../src/stages/bulkhead.js'
import { hedgeStage } from '../src/stages/hedge.js'
import { latencyStage } from '../src/stages/latency.js'
import { transportStage } from '../src/stages/transport.js'
import type { Breaker } from '../src/breaker/breaker.js'
import type { Bulkhead } from '../src/bulkhead.js'
import type { Outcome, Stage } from '../src/stages/types.js'
import type { ResilientFetchOptions } from '../src/types.js'
import { controlledTransport, flush } from './helpers.js'
import { testCall, testRuntime } from './stages/helpers.js'

// A hedged call whose half-open probe loses the race: the probe is left to finish, so the breaker gets its verdict.

const KEY = 'https://a.test'

beforeEach(() => void vi.useFakeTimers({ now: 1_000_000 }))
afterEach(() => void vi.useRealTimers())

/** hedge → bulkhead → breaker → latency → attempt deadline + transport, on a controlled transport; hedge delay 100 ms. */
function setup(options: ResilientFetchOptions = {}) {
  const c = controlledTransport()
  const o = normalizeOptions({
    fetch: c.fetch,
    retry: false,
    fallback: false,
    timeout: { attempt: 5_000, total: false },
    hedge: { delay: 100, budget: false },
    breaker: { window: 'consecutive', failureThreshold: 1, openDuration: 1_000 },
    ...options,
  })
  const { runtime } = testRuntime(Date.now)
  const latency = latencyStage()
  const stages = [hedgeStage(o.hedge, runtime), bulkheadStage(o.bulkhead, runtime), breakerStage(o.breaker, undefined, runtime), latency].filter((s) => s !== undefined) as Stage[]
  const chain = compose(stages, transportStage(o, runtime), Date.now)
  const keys = new Keys(chain.stages, 10)
  const states = keys.get(KEY).states
  const waited: Promise<unknown>[] = []
  const call = (signal?: AbortSignal) => testCall({ states, timeout: o.timeout, signal, waitUntil: (p) => void waited.push(p) })
  return { c, chain, call, breaker: states[2] as Breaker, bulkhead: states[1] as Bulkhead, waited }
}

/** Opens the breaker for 1 s and lets the second pass: the next attempt it admits is its probe. */
function halfOpen(breaker: Breaker) {
  breaker.open(1_000)
  vi.advanceTimersByTime(1_000)
  expect(breaker.state).toBe('half-open')
}

/**
 * Attempt 1 admitted while closed, then the breaker opens and half-opens under it: the hedge, 100 ms
 * later, is the probe; attempt 1 answers 200 and wins. Returns the call's outcome, already resolved.
 */
async function hedgeIsTheLosingProbe(s: ReturnType<typeof setup>, signal?: AbortSignal) {
  const done = s.chain.run(s.call(signal))
  let answered = false
  void done.then(() => (answered = true))
  await flush()
  s.breaker.open(50)
  await vi.advanceTimersByTimeAsync(100)
  expect(s.breaker.state).toBe('half-open')
  expect(s.c.pending).toHaveLength(2)
  s.c.pending[0]!.respond(200)
  await flush(10)
  // The call answered with the winner at once, the probe still out.
  expect(answered).toBe(true)
  const outcome = (await done) as Extract<Outcome, { kind: 'response' }>
  expect(outcome).toMatchObject({ kind: 'response', failure: false })
  expect(outcome.hedged).toBeUndefined()
  return outcome
}

describe('hedging and a half-open probe that loses the race', () => {
  it('the losing probe is not aborted: it finishes, its 200 closes the breaker, its body is cancelled; nothing is left held', async () => {
    const s = setup()
    await hedgeIsTheLosingProbe(s)
    const probe = s.c.pending[0]!
    expect(probe.signal!.aborted).toBe(false)
    expect(s.bulkhead.snapshot().active).toBe(1)
    // Kept alive past the answer through the call's waitUntil (workerd).
    expect(s.waited).toHaveLength(1)
    let cancelled = false
    const body = new ReadableStream({ cancel: () => void (cancelled = true) })
    await vi.advanceTimersByTimeAsync(1_400)
    probe.respond(200, undefined, body as unknown as BodyInit)
    await s.waited[0]
    expect(s.breaker.state).toBe('closed')
    expect(cancelled).toBe(true)
    expect(s.bulkhead.snapshot().active).toBe(0)
    expect(vi.getTimerCount()).toBe(0)
  })

  it('a failing losing probe re-opens the breaker', async () => {
    const s = setup()
    await hedgeIsTheLosingProbe(s)
    await vi.advanceTimersByTimeAsync(500)
    s.c.pending[0]!.respond(503)
    await s.waited[0]
    expect(s.breaker.state).toBe('open')
    expect(s.bulkhead.snapshot().active).toBe(0)
  })

  it('the attempt deadline still ends the losing probe: a timeout, which re-opens the breaker', async () => {
    const s = setup()
    await hedgeIsTheLosingProbe(s)
    const probe = s.c.pending[0]!
    await vi.advanceTimersByTimeAsync(4_999)
    expect(probe.signal!.aborted).toBe(false)
    await vi.advanceTimersByTimeAsync(1)
    await s.waited[0]
    expect(probe.signal!.aborted).toBe(true)
    expect(s.breaker.state).toBe('open')
    expect(vi.getTimerCount()).toBe(0)
  })

  it("the caller's abort still ends the losing probe: no verdict, its slot and permit are given back", async () => {
    const s = setup()
    const caller = new AbortController()
    await hedgeIsTheLosingProbe(s, caller.signal)
    const probe = s.c.pending[0]!
    expect(probe.signal!.aborted).toBe(false)
    caller.abort(new Error('gone'))
    await s.waited[0]
    expect(probe.signal!.aborted).toBe(true)
    expect(s.breaker.state).toBe('half-open')
    expect(s.bulkhead.snapshot().active).toBe(0)
    expect(vi.getTimerCount()).toBe(0)
    // The probe slot is free again: the next call is admitted as the probe, and its 200 closes the breaker.
    const next = s.chain.run(s.call())
    await flush()
    s.c.pending[0]!.respond(200)
    expect(await next).toMatchObject({ kind: 'response', failure: false })
    expect(s.breaker.state).toBe('closed')
  })

  it('the first attempt as the probe, a hedge (the second probe) wins: the loser finishes and its success closes the breaker', async () => {
    const s = setup({ breaker: { window: 'consecutive', failureThreshold: 1, openDuration: 1_000, halfOpen: { probes: 2, successesToClose: 2 } } })
    halfOpen(s.breaker)
    const done = s.chain.run(s.call())
    await vi.advanceTimersByTimeAsync(100)
    expect(s.c.pending).toHaveLength(2)
    s.c.pending[1]!.respond(200)
    expect(await done).toMatchObject({ kind: 'response', failure: false, hedged: true })
    // One probe's success of the two needed.
    expect(s.breaker.state).toBe('half-open')
    const slow = s.c.pending[0]!
    expect(slow.signal!.aborted).toBe(false)
    await vi.advanceTimersByTimeAsync(1_400)
    slow.respond(200)
    await s.waited[0]
    expect(s.breaker.state).toBe('closed')
  })

  it("a losing probe stops following the caller's signal once it settled; the winner still follows it", async () => {
    const s = setup({ breaker: { window: 'consecutive', failureThreshold: 1, openDuration: 1_000, halfOpen: { probes: 2, successesToClose: 2 } } })
    halfOpen(s.breaker)
    const caller = new AbortController()
    const done = s.chain.run(s.call(caller.signal))
    await vi.advanceTimersByTimeAsync(100)
    const [slow, winner] = s.c.pending as [(typeof s.c.pending)[0], (typeof s.c.pending)[0]]
    winner.respond(200)
    expect(await done).toMatchObject({ kind: 'response', failure: false, hedged: true })
    slow.respond(200)
    await s.waited[0]
    expect(s.breaker.state).toBe('closed')
    caller.abort(new Error('gone'))
    expect(slow.signal!.aborted).toBe(false)
    expect(winner.signal!.aborted).toBe(true)
  })

  it('a loser whose breaker no longer waits for a probe (another probe closed it) is aborted at once, as any loser', async () => {
    const s = setup({ breaker: { window: 'consecutive', failureThreshold: 1, openDuration: 1_000, halfOpen: { probes: 2 } } })
    halfOpen(s.breaker)
    const done = s.chain.run(s.call())
    await vi.advanceTimersByTimeAsync(100)
    s.c.pending[1]!.respond(200)
    expect(await done).toMatchObject({ kind: 'response', hedged: true })
    expect(s.breaker.state).toBe('closed')
    await flush()
    expect(s.c.calls[0]!.signal!.aborted).toBe(true)
    expect(s.waited).toHaveLength(0)
    expect(s.bulkhead.snapshot().active).toBe(0)
  })
})
