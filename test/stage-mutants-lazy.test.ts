/**
 * A lazy stage alone, its chunk a promise the test settles (through the preloaded table): what a call does before the
 * chunk arrives (waits to its total deadline, counted from the call's start, or its abort), after (the stage with one
 * state per key), and when it fails to load (let through, said once); busy, report and settle only once there is state.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { normalizeTimeout } from '../src/options.js'
import { preloaded } from '../src/preloaded.js'
import { lazyCoalesceStage, lazyHedgeStage, lazyThrottleStage } from '../src/stages/lazy.js'
import type { Attempt, Call, Gate, Outcome, Wrapper } from '../src/stages/types.js'
import { testCall, testRuntime } from './stages/helpers.js'

const KEY = 'https://a.test'
const outcome = (status: number): Outcome => ({ kind: 'response', response: new Response(null, { status }), failure: false, duration: 1 })

/** A stage the fake chunk makes: each key's state counts the calls it saw. */
function fakeStage() {
  return {
    name: 'fake',
    forKey: vi.fn((key: string) => ({ key, busy: true })),
    run: vi.fn((call: Call, next: (call: Call) => Promise<Outcome>, _state: unknown) => next(call)),
    admit: vi.fn((_state: unknown, _attempt: Attempt, t: number) => `ticket@${t}`),
    settle: vi.fn(),
    busy: vi.fn((state: { busy: boolean }) => state.busy),
    report: vi.fn((state: { key: string }, snapshot: { breakers: unknown[] }) => void snapshot.breakers.push(state.key)),
  }
}

/** Both faces of a lazy stage, as the tests call them. */
type AnyLazy = Required<Wrapper<unknown>> & Required<Gate<unknown, unknown>>

/** A chunk that arrives (with `stage`) or fails when the test says. */
function slowChunk(part: 'hedge' | 'throttle' | 'coalesce', make: string) {
  let arrive!: (stage: unknown) => void
  let fail!: (error: Error) => void
  const chunk = new Promise((resolve, reject) => ((arrive = (stage) => resolve({ [make]: () => stage })), (fail = reject)))
  ;(preloaded as Record<string, unknown>)[part] = chunk
  return { arrive, fail }
}

function hedge() {
  const chunk = slowChunk('hedge', 'hedgeStage')
  const stage = lazyHedgeStage({} as never, testRuntime(Date.now).runtime)! as unknown as AnyLazy
  return { ...chunk, stage }
}

function throttle() {
  const chunk = slowChunk('throttle', 'throttleStage')
  const stage = lazyThrottleStage({} as never, testRuntime(Date.now).runtime)! as unknown as AnyLazy
  return { ...chunk, stage }
}

const call = (parts: Partial<Call> = {}) => testCall({ at: Date.now(), timeout: normalizeTimeout({ attempt: 200, total: 300 }), ...parts })
const next = () => vi.fn(async () => outcome(200))

/** When `p` settled, in fake ms from now (checked each ms up to `until`); undefined if it had not. */
async function settledAt(p: Promise<unknown>, until: number): Promise<number | undefined> {
  const from = Date.now()
  let at: number | undefined
  void p.then(() => (at ??= Date.now() - from))
  for (let waited = 0; waited < until && at === undefined; waited++) await vi.advanceTimersByTimeAsync(1)
  return at
}

beforeEach(() => void vi.useFakeTimers({ now: 1_000_000 }))
afterEach(() => {
  vi.useRealTimers()
  vi.restoreAllMocks()
  for (const part of ['hedge', 'throttle', 'coalesce'] as const) delete preloaded[part]
})

describe('a lazy wrapper', () => {
  it('waits for its chunk, then runs the stage with one state per key, made once', async () => {
    const { arrive, stage } = hedge()
    const made = fakeStage()
    const held = stage.forKey(KEY)
    const first = next()
    const running = stage.run(call(), first, held)
    await vi.advanceTimersByTimeAsync(100)
    expect(first).not.toHaveBeenCalled()
    arrive(made)
    expect(await running).toMatchObject({ kind: 'response' })
    await stage.run(call(), next(), held)
    expect(made.forKey.mock.calls).toEqual([[KEY]])
    expect(made.run.mock.calls.map((c) => c[2])).toEqual([{ key: KEY, busy: true }, { key: KEY, busy: true }])
  })

  it("goes on without the stage at the call's total deadline, counted from the call's start", async () => {
    const { stage } = hedge()
    const sent = next()
    const running = stage.run(call({ at: Date.now() - 100 }), sent, stage.forKey(KEY))
    expect(await settledAt(running, 1_000)).toBe(200)
    expect(sent).toHaveBeenCalledTimes(1)
  })

  it('without a total deadline waits for the chunk however long it takes', async () => {
    const { arrive, stage } = hedge()
    const sent = next()
    const running = stage.run(call({ timeout: normalizeTimeout({ attempt: 1_000, total: false }) }), sent, stage.forKey(KEY))
    expect(await settledAt(running, 10_000)).toBeUndefined()
    expect(sent).not.toHaveBeenCalled()
    const made = fakeStage()
    arrive(made)
    await running
    expect([made.run.mock.calls.length, sent.mock.calls.length]).toEqual([1, 1])
  })

  it("ends at its caller's abort, as that abort, never sent", async () => {
    const { stage } = hedge()
    const controller = new AbortController()
    setTimeout(() => controller.abort('gave up'), 50)
    const sent = next()
    const running = stage.run(call({ signal: controller.signal }), sent, stage.forKey(KEY))
    expect(await settledAt(running, 1_000)).toBe(50)
    expect(await running).toEqual({ kind: 'aborted', reason: 'gave up' })
    expect(sent).not.toHaveBeenCalled()
  })

  it('whose chunk fails to load lets calls through, and says so once naming the stage', async () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {})
    const { fail, stage } = hedge()
    const error = new Error('chunk failed to load')
    fail(error)
    const sent = next()
    await stage.run(call(), sent, stage.forKey(KEY))
    await stage.run(call(), sent, stage.forKey(KEY))
    expect(sent).toHaveBeenCalledTimes(2)
    expect(warn.mock.calls).toEqual([['resilient-fetch: hedge is off:', error]])
  })

  it('whose chunk makes no stage (it turned itself off) lets calls through', async () => {
    const { arrive, stage } = hedge()
    arrive(undefined)
    const sent = next()
    await stage.run(call(), sent, stage.forKey(KEY))
    expect(sent).toHaveBeenCalledTimes(1)
  })

  it("is busy and reports only once a key has the stage's state, then as the stage says", async () => {
    const { arrive, stage } = hedge()
    const made = fakeStage()
    arrive(made)
    await vi.advanceTimersByTimeAsync(0)
    const held = stage.forKey(KEY)
    const snapshot = { breakers: [] as unknown[] }
    expect(stage.busy(held)).toBe(false)
    stage.report(held, snapshot as never, Date.now())
    expect(snapshot.breakers).toEqual([])
    await stage.run(call(), next(), held)
    expect(stage.busy(held)).toBe(true)
    stage.report(held, snapshot as never, Date.now())
    expect(snapshot.breakers).toEqual([KEY])
  })
  it('whose stage keeps no busy or report of its own is never busy and reports nothing', async () => {
    const { arrive, stage } = hedge()
    const { busy: _busy, report: _report, ...made } = fakeStage()
    arrive(made)
    const held = stage.forKey(KEY)
    await stage.run(call(), next(), held)
    const snapshot = { breakers: [] as unknown[] }
    expect(stage.busy(held)).toBe(false)
    stage.report(held, snapshot as never, Date.now())
    expect(snapshot.breakers).toEqual([])
  })
})

describe('a lazy gate', () => {
  const attempt = (parts: Partial<Call> = {}, signal?: AbortSignal): Attempt => ({ call: call(parts), signal, start: Date.now() })

  it('waits for its chunk, then admits through the stage at the time it arrived; settles through it once there', async () => {
    const { arrive, stage } = throttle()
    const made = fakeStage()
    const held = stage.forKey(KEY)
    const a = attempt()
    expect(stage.settle(held, a, 'early', outcome(200))).toBeUndefined()
    const admitted = stage.admit(held, a, Date.now())
    await vi.advanceTimersByTimeAsync(100)
    arrive(made)
    expect(await admitted).toBe(`ticket@${Date.now()}`)
    expect(made.admit.mock.calls[0]![1]).toBe(a)
    stage.settle(held, a, 'late', outcome(200))
    expect(made.settle.mock.calls).toEqual([[{ key: KEY, busy: true }, a, 'late', outcome(200)]])
  })

  it("refuses at the call's total deadline as a total timeout, or ends at the attempt's abort", async () => {
    const { stage } = throttle()
    const late = stage.admit(stage.forKey(KEY), attempt({ at: Date.now() - 100 }), Date.now())
    expect(await settledAt(late as Promise<unknown>, 1_000)).toBe(200)
    expect(await late).toMatchObject({ kind: 'refused', reason: 'deadline', error: { name: 'TimeoutError', scope: 'total', timeout: 300 } })
    const controller = new AbortController()
    const left = stage.admit(stage.forKey(KEY), attempt({}, controller.signal), Date.now())
    controller.abort('lost the race')
    expect(await left).toEqual({ kind: 'aborted', reason: 'lost the race' })
  })

  it('settles nothing through a stage that keeps no settle', async () => {
    const { arrive, stage } = throttle()
    const { settle: _settle, ...made } = fakeStage()
    arrive(made)
    const held = stage.forKey(KEY)
    const a = attempt()
    await stage.admit(held, a, Date.now())
    expect(stage.settle(held, a, 'ticket', outcome(200))).toBeUndefined()
  })

  it('whose chunk fails to load admits everything', async () => {
    vi.spyOn(console, 'warn').mockImplementation(() => {})
    const { fail, stage } = throttle()
    fail(new Error('chunk failed to load'))
    expect(await stage.admit(stage.forKey(KEY), attempt(), Date.now())).toBe(true)
  })
})

describe('the lazy coalescing wrapper', () => {
  it('answers refusals of a GET that has not opted out, only; a stage that is off is none', () => {
    slowChunk('coalesce', 'coalesceStage')
    const stage = lazyCoalesceStage(true, testRuntime(Date.now).runtime)!
    expect(stage.answersRefusals!(testCall({ method: 'GET' }))).toBe(true)
    expect(stage.answersRefusals!(testCall({ method: 'POST' }))).toBe(false)
    expect(stage.answersRefusals!(testCall({ method: 'GET', options: { coalesce: false } }))).toBe(false)
    expect(stage.answersRefusals!(testCall({ method: 'GET', options: { coalesce: true } }))).toBe(true)
    expect(lazyCoalesceStage(false, testRuntime(Date.now).runtime)).toBeUndefined()
    expect(lazyHedgeStage(false, testRuntime(Date.now).runtime)).toBeUndefined()
    expect(lazyThrottleStage(false, testRuntime(Date.now).runtime)).toBeUndefined()
  })
})

describe('the coalescing chunk', () => {
  it('loads by itself where no entry preloaded it: two identical calls at once send one request, nothing said on the console', async () => {
    vi.useRealTimers()
    const warn = vi.spyOn(console, 'warn')
    const { createResilientFetch } = await import('../src/index.js')
    let answer!: (response: Response) => void
    const fetch = vi.fn(() => new Promise<Response>((resolve) => (answer = resolve)))
    const rf = createResilientFetch({ fetch, coalesce: true, retry: false, fallback: false, timeout: false })
    const calls = [rf('https://a.test/x'), rf('https://a.test/x')]
    await vi.waitFor(() => expect(fetch).toHaveBeenCalledTimes(1))
    answer(new Response('shared'))
    expect(await Promise.all(calls.map(async (call) => (await call).text()))).toEqual(['shared', 'shared'])
    expect(fetch).toHaveBeenCalledTimes(1)
    expect(warn).not.toHaveBeenCalled()
  })
})
