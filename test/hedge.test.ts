import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { hedgeDelay, race, type HedgeRunner } from '../src/stages/hedge.js'
import { LatencySummary } from '../src/latency.js'
import { flush } from './helpers.js'
import { normalizeHedge } from '../src/options.js'
import { createResilientFetch } from '../src/index.js'

beforeEach(() => {
  vi.useFakeTimers({ now: 1_000_000 })
})
afterEach(() => {
  vi.useRealTimers()
})

interface Attempt {
  n: number
  signal: AbortSignal
  answer(status: number): void
  fail(error?: unknown): void
}

/** A runner whose attempts wait for the test; results are statuses, >= 500 a failure. */
function runner(options: { budget?: number } = {}) {
  const attempts: Attempt[] = []
  const discarded: number[] = []
  const hedges: { n: number; delay: number }[] = []
  let budget = options.budget ?? Infinity
  let inFlight = 0
  let maxInFlight = 0
  const r: HedgeRunner<number> = {
    attempt: (n, { signal }) =>
      new Promise<number>((resolve, reject) => {
        inFlight++
        maxInFlight = Math.max(maxInFlight, inFlight)
        const end = () => inFlight--
        signal.addEventListener('abort', () => {
          end()
          reject(signal.reason)
        })
        attempts.push({ n, signal, answer: (s) => (end(), resolve(s)), fail: (e = new TypeError('fetch failed')) => (end(), reject(e)) })
      }),
    // 0 stands for a refusal at a gate (it never reached the network).
    verdict: (status) => (status === 0 ? 'refused' : status >= 500 ? 'lose' : 'win'),
    discard: (status) => void discarded.push(status),
    mayHedge: (n, delay) => {
      if (budget <= 0) return false
      budget--
      hedges.push({ n, delay })
      return true
    },
  }
  return { r, attempts, discarded, hedges, inFlight: () => inFlight, maxInFlight: () => maxInFlight }
}

describe('hedgeDelay', () => {
  it('a number is the delay; a percentile needs 20 samples of the key', () => {
    expect(hedgeDelay(150, undefined)).toBe(150)
    const latency = new LatencySummary()
    for (let i = 1; i <= 19; i++) latency.record(i * 10)
    expect(hedgeDelay('p95', latency)).toBeUndefined()
    latency.record(200)
    expect(hedgeDelay('p95', latency)).toBe(190)
    expect(hedgeDelay('p90', latency)).toBe(180)
    expect(hedgeDelay('p99', latency)).toBe(200)
    expect(hedgeDelay('p99', undefined)).toBeUndefined()
  })
})

describe('race', () => {
  it('an answer before the delay: no hedge, no timer left', async () => {
    const { r, attempts, hedges } = runner()
    const p = race(r, 100, 1, undefined)
    await flush()
    vi.advanceTimersByTime(99)
    attempts[0]!.answer(200)
    expect(await p).toMatchObject({ result: 200, attempt: 1 })
    expect(hedges).toEqual([])
    expect(vi.getTimerCount()).toBe(0)
  })

  it('after the delay a hedge starts; the first good answer wins and the other is aborted at once', async () => {
    const { r, attempts, hedges } = runner()
    const p = race(r, 100, 1, undefined)
    vi.advanceTimersByTime(100)
    expect(attempts.map((a) => a.n)).toEqual([1, 2])
    expect(hedges).toEqual([{ n: 2, delay: 100 }])
    attempts[1]!.answer(200)
    expect(await p).toMatchObject({ result: 200, attempt: 2 })
    expect(attempts[0]!.signal.aborted).toBe(true)
    expect(attempts[0]!.signal.reason.name).toBe('AbortError')
    expect(attempts[1]!.signal.aborted).toBe(false)
  })

  it('hedges start a delay apart, at most maxHedges of them', async () => {
    const { r, attempts, maxInFlight } = runner()
    const p = race(r, 100, 2, undefined)
    vi.advanceTimersByTime(100)
    expect(attempts).toHaveLength(2)
    vi.advanceTimersByTime(100)
    expect(attempts).toHaveLength(3)
    vi.advanceTimersByTime(1_000)
    expect(attempts).toHaveLength(3)
    expect(maxInFlight()).toBe(3)
    attempts[0]!.answer(200)
    expect((await p).attempt).toBe(1)
    expect(attempts.slice(1).every((a) => a.signal.aborted)).toBe(true)
  })

  it('a failure does not win while another attempt runs; a later good answer does', async () => {
    const { r, attempts, discarded } = runner()
    const p = race(r, 100, 1, undefined)
    vi.advanceTimersByTime(100)
    attempts[0]!.answer(503)
    await flush()
    attempts[1]!.answer(200)
    expect(await p).toMatchObject({ result: 200, attempt: 2 })
    expect(discarded).toEqual([503])
  })

  it('when all fail, the failure that arrived last is the outcome', async () => {
    const { r, attempts, discarded } = runner()
    const p = race(r, 100, 1, undefined)
    vi.advanceTimersByTime(100)
    attempts[1]!.answer(502)
    await flush()
    attempts[0]!.answer(503)
    expect(await p).toMatchObject({ result: 503, attempt: 1 })
    expect(discarded).toEqual([502])

    const errors = runner()
    const q = race(errors.r, 100, 1, undefined).catch((e) => e)
    vi.advanceTimersByTime(100)
    errors.attempts[0]!.fail(new TypeError('first'))
    await flush()
    errors.attempts[1]!.fail(new TypeError('second'))
    expect((await q).message).toBe('second')
  })

  it('a refusal that arrives last never replaces a failure that reached the network', async () => {
    const { r, attempts, discarded } = runner()
    const p = race(r, 100, 1, undefined)
    vi.advanceTimersByTime(100)
    attempts[0]!.answer(503)
    await flush()
    attempts[1]!.answer(0)
    expect(await p).toMatchObject({ result: 503, attempt: 1 })
    expect(discarded).toEqual([])

    // A refusal first, then the failure: the failure still ends the call; only refusals end it as a refusal.
    const other = runner()
    const q = race(other.r, 100, 1, undefined)
    vi.advanceTimersByTime(100)
    other.attempts[1]!.answer(0)
    await flush()
    other.attempts[0]!.answer(502)
    expect(await q).toMatchObject({ result: 502, attempt: 1 })
    const refused = runner()
    const alone = race(refused.r, 100, 1, undefined)
    refused.attempts[0]!.answer(0)
    expect(await alone).toMatchObject({ result: 0, attempt: 1 })
  })

  it('once no attempt in flight reached the network, a failure ends the call: a hedge waiting at a gate is aborted', async () => {
    const { r, attempts, discarded } = runner()
    let reached = 1
    r.reached = () => reached
    const p = race(r, 100, 1, undefined)
    vi.advanceTimersByTime(100)
    // The hedge started but waits at a gate (reached stays 1): the first's 503 is the outcome at once.
    expect(attempts).toHaveLength(2)
    attempts[0]!.answer(503)
    expect(await p).toMatchObject({ result: 503, attempt: 1 })
    expect(attempts[1]!.signal.aborted).toBe(true)
    expect(discarded).toEqual([])

    // A hedge that reached the network may still win.
    const live = runner()
    reached = 1
    live.r.reached = () => reached
    const q = race(live.r, 100, 1, undefined)
    vi.advanceTimersByTime(100)
    reached = 2
    live.attempts[0]!.answer(503)
    await flush()
    expect(live.attempts[1]!.signal.aborted).toBe(false)
    live.attempts[1]!.answer(200)
    expect(await q).toMatchObject({ result: 200, attempt: 2 })
    expect(live.discarded).toEqual([503])
  })

  it('a failure with nothing else in flight ends the call at once, without waiting for the delay', async () => {
    const { r, attempts, hedges } = runner()
    const p = race(r, 100, 1, undefined)
    attempts[0]!.answer(500)
    expect(await p).toMatchObject({ result: 500, attempt: 1 })
    vi.advanceTimersByTime(1_000)
    expect(hedges).toEqual([])
    expect(vi.getTimerCount()).toBe(0)
  })

  it('no budget, no hedge: the first attempt runs alone', async () => {
    const { r, attempts } = runner({ budget: 0 })
    const p = race(r, 100, 3, undefined)
    vi.advanceTimersByTime(1_000)
    expect(attempts).toHaveLength(1)
    attempts[0]!.answer(200)
    expect((await p).attempt).toBe(1)
  })

  it('an answer that arrives after the winner is discarded (its body cancelled)', async () => {
    const { r, attempts, discarded } = runner()
    const p = race(r, 100, 1, undefined)
    vi.advanceTimersByTime(100)
    // Both headers arrive in the same turn: the abort comes too late for the first.
    attempts[1]!.answer(200)
    attempts[0]!.answer(201)
    expect(await p).toMatchObject({ result: 200, attempt: 2 })
    await flush()
    expect(discarded).toEqual([201])
    expect(attempts[0]!.signal.aborted).toBe(true)
  })

  it('a caller abort aborts every attempt with its reason and rejects with it', async () => {
    const { r, attempts, inFlight } = runner()
    const controller = new AbortController()
    const p = race(r, 100, 1, controller.signal).catch((e) => e)
    vi.advanceTimersByTime(100)
    controller.abort('bye')
    expect(await p).toBe('bye')
    await flush()
    expect(attempts.map((a) => a.signal.reason)).toEqual(['bye', 'bye'])
    expect(inFlight()).toBe(0)
    expect(vi.getTimerCount()).toBe(0)
  })

  it('an attempt that throws synchronously is a failed attempt, not a crash', async () => {
    const r: HedgeRunner<number> = {
      attempt: () => {
        throw new TypeError('bad request')
      },
      verdict: () => 'win',
      discard: () => {},
      mayHedge: () => true,
    }
    await expect(race(r, 100, 1, undefined)).rejects.toThrow('bad request')
    expect(vi.getTimerCount()).toBe(0)
  })
})

describe('hedge options', () => {
  it("defaults to off; {} turns it on with delay 'p95', one hedge, GET and HEAD, budget 0.1 + 5", () => {
    expect(normalizeHedge(undefined)).toBe(false)
    expect(normalizeHedge({})).toEqual({ delay: 'p95', maxHedges: 1, methods: new Set(['GET', 'HEAD']), budget: { ratio: 0.1, min: 5 } })
    expect(normalizeHedge({ delay: 50, methods: ['get', 'put'], budget: false })).toMatchObject({ delay: 50, methods: new Set(['GET', 'PUT']), budget: false })
  })

  it('rejects bad values at creation, naming the option path and the value', () => {
    expect(() => createResilientFetch({ hedge: { delay: 'p50' as never } })).toThrow(`hedge.delay must be a number of ms or 'p90', 'p95', 'p99', got "p50"`)
    expect(() => createResilientFetch({ hedge: { delay: 0 } })).toThrow(/hedge\.delay .* got 0/)
    expect(() => createResilientFetch({ hedge: { maxHedges: 0 } })).toThrow('hedge.maxHedges must be a positive integer, got 0')
    expect(() => createResilientFetch({ hedge: { methods: 'GET' as never } })).toThrow(/hedge\.methods .* got "GET"/)
    expect(() => createResilientFetch({ hedge: { budget: { ratio: 2 } } })).toThrow(/hedge\.budget\.ratio .* got 2/)
    expect(() => createResilientFetch({ hedge: { after: 10 } as never })).toThrow('hedge.after is not an option')
  })
})
