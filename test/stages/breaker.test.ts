import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { normalizeBreaker, normalizeTimeout, type NormalizedBreaker } from '../../src/options.js'
import { CircuitOpenError } from '../../src/errors.js'
import type { Breaker } from '../../src/breaker/breaker.js'
import { breakerStage } from '../../src/stages/breaker.js'
import { Keys } from '../../src/stages/keys.js'
import { aborted, type Attempt, type Outcome } from '../../src/stages/types.js'
import type { BreakerOptions, BreakerShare, SharedBreakerState } from '../../src/types.js'
import { networkError, ok, testCall, testRuntime } from './helpers.js'

const KEY = 'https://a.test'

function setup(options: BreakerOptions = {}, share?: BreakerShare) {
  const t = testRuntime(Date.now)
  const stage = breakerStage(normalizeBreaker({ window: 'consecutive', failureThreshold: 2, ...options }) as NormalizedBreaker, share, t.runtime)!
  const breaker = stage.forKey!(KEY) as Breaker
  const attempt = (): Attempt => ({ call: testCall({ timeout: normalizeTimeout({ attempt: 1_000, total: false }) }), signal: undefined, start: Date.now() })
  /** Admits and settles one attempt with `outcome`. */
  async function pass(outcome: Outcome) {
    const a = attempt()
    const ticket = await stage.admit(breaker, a, Date.now())
    stage.settle(breaker, a, ticket as never, outcome)
    return ticket
  }
  return { ...t, stage, breaker, attempt, pass }
}

beforeEach(() => void vi.useFakeTimers({ now: 1_000_000 }))
afterEach(() => void vi.useRealTimers())

describe('breaker stage', () => {
  it('learns from settled outcomes, then refuses at once with CircuitOpenError and a reject event', async () => {
    const { stage, breaker, pass, seen } = setup()
    await pass(networkError())
    expect(stage.refuses!(breaker, testCall(), Date.now())).toBeUndefined()
    await pass(ok(500))
    expect(breaker.state).toBe('open')
    const refused = stage.refuses!(breaker, testCall(), Date.now())
    expect(refused).toMatchObject({ kind: 'refused', reason: 'open' })
    expect(refused!.error).toBeInstanceOf(CircuitOpenError)
    expect(refused!.error).toMatchObject({ key: KEY, retryAfter: 30_000 })
    expect(seen.map((e) => e.type)).toEqual(['statechange', 'reject'])
    expect(seen[0]!.detail).toEqual({ key: KEY, from: 'closed', to: 'open' })
  })

  it('a good response or a refusal does not count as a failure', async () => {
    const { breaker, pass } = setup({ window: 'consecutive', failureThreshold: 1 })
    await pass(ok(404))
    await pass({ kind: 'refused', reason: 'bulkhead', error: new Error('full') })
    expect(breaker.state).toBe('closed')
  })

  it('half-open lends one probe slot; an aborted probe gives it back, a good probe closes', async () => {
    const { stage, breaker, attempt, pass } = setup({ openDuration: 1_000 })
    breaker.open(1_000)
    vi.advanceTimersByTime(1_000)
    const probe = attempt()
    const ticket = stage.admit(breaker, probe, Date.now())
    expect(typeof ticket).toBe('number')
    expect(stage.admit(breaker, attempt(), Date.now())).toMatchObject({ kind: 'refused', reason: 'open' })
    stage.settle(breaker, probe, ticket as number, aborted(new Error('caller')))
    expect(breaker.state).toBe('half-open')
    await pass(ok(200))
    expect(breaker.state).toBe('closed')
  })

  it('a 503 with Retry-After opens the key until then, at most an hour', async () => {
    const { breaker, pass } = setup()
    await pass(ok(503, { 'retry-after': '20' }))
    expect(breaker.snapshot(Date.now())).toMatchObject({ state: 'open', nextProbeAt: Date.now() + 20_000 })
    const other = setup()
    await other.pass(ok(429, { 'retry-after': String(24 * 3600) }))
    expect(other.breaker.snapshot(Date.now()).nextProbeAt).toBe(Date.now() + 3_600_000)
  })

  it('a Retry-After opens the key only on a response judged a failure: an isFailure that forgives a 429 keeps it closed', async () => {
    const { breaker, pass } = setup()
    await pass({ kind: 'response', response: new Response('over quota', { status: 429, headers: { 'retry-after': '3600' } }), failure: false, duration: 1 })
    expect(breaker.snapshot(Date.now())).toMatchObject({ state: 'closed' })
    await pass(ok(503, { 'retry-after': '20' }))
    expect(breaker.snapshot(Date.now())).toMatchObject({ state: 'open', nextProbeAt: Date.now() + 20_000 })
  })

  it('with a share: a probe needs the lease; a refused lease refuses the attempt; a granted one is released on settle', async () => {
    let grant = false
    const share: BreakerShare = { connect() {}, acquireProbe: vi.fn(async () => grant), releaseProbe: vi.fn() }
    const { stage, breaker, attempt } = setup({}, share)
    breaker.open(1_000)
    vi.advanceTimersByTime(1_000)
    expect(await stage.admit(breaker, attempt(), Date.now())).toMatchObject({ kind: 'refused', reason: 'open' })
    grant = true
    const probe = attempt()
    const ticket = await stage.admit(breaker, probe, Date.now())
    expect(ticket).toMatchObject({ lease: true })
    stage.settle(breaker, probe, ticket as never, ok(200))
    expect(share.releaseProbe).toHaveBeenCalledWith(KEY)
    expect(breaker.state).toBe('closed')
  })

  it("attach: another participant's open creates the key and opens it; the control finds the key's breaker", () => {
    let apply: ((key: string, state: SharedBreakerState) => void) | undefined
    const share: BreakerShare = { connect: (fn) => void (apply = fn) }
    const { stage } = setup({}, share)
    const keys = new Keys([stage], 10)
    const control = stage.attach(keys, 0, () => undefined)
    expect(control(KEY)).toBeUndefined()
    apply!(KEY, { state: 'open', at: Date.now(), openedAt: Date.now(), openUntil: Date.now() + 5_000 })
    expect(control(KEY)!.state).toBe('open')
    apply!('https://b.test', { state: 'closed', at: Date.now() })
    expect(keys.find('https://b.test')).toBeUndefined()
  })

  it("after the clock was set back, another participant's open is adopted though our own state is dated later", () => {
    let apply: ((key: string, state: SharedBreakerState) => void) | undefined
    const share: BreakerShare = { connect: (fn) => void (apply = fn) }
    vi.setSystemTime(1_800_000_000_000)
    const { stage } = setup({}, share)
    const keys = new Keys([stage], 10)
    const control = stage.attach(keys, 0, () => undefined)
    apply!(KEY, { state: 'open', at: Date.now(), openedAt: Date.now(), openUntil: Date.now() + 5_000 })
    control(KEY)!.close()
    vi.setSystemTime(Date.now() - 3_600_000)
    apply!(KEY, { state: 'open', at: Date.now(), openedAt: Date.now(), openUntil: Date.now() + 5_000 })
    expect(control(KEY)!.state).toBe('open')
  })

  it('reports its snapshot and is busy while a probe is out', () => {
    const { stage, breaker, attempt } = setup()
    breaker.open(10)
    vi.advanceTimersByTime(10)
    stage.admit(breaker, attempt(), Date.now())
    expect(stage.busy!(breaker)).toBe(true)
    const snap = { at: 0, breakers: [], bulkheads: [], totals: {} } as never as Parameters<NonNullable<typeof stage.report>>[1]
    stage.report!(breaker, snap, Date.now())
    expect(snap.breakers).toMatchObject([{ key: KEY, state: 'half-open' }])
  })

  it('says how long a refused call should wait: to the end of the open period, to the probe deadline when half-open and full, nothing when forced open with no end', async () => {
    const { stage, breaker, attempt, pass } = setup({ openDuration: 2_000 })
    expect(breaker.refuses(Date.now())).toBe(false)
    await pass(networkError())
    await pass(networkError())
    const openedAt = Date.now()
    const until = openedAt + breaker.retryAfter(openedAt)!
    expect(until).toBeGreaterThan(openedAt + 2_000 * 0.9 - 1)
    expect(until).toBeLessThanOrEqual(openedAt + 2_000)
    vi.setSystemTime(until)
    expect(breaker.refuses(until)).toBe(false)
    stage.admit(breaker, attempt(), until)
    expect(breaker.refuses(until)).toBe(true)
    expect(breaker.retryAfter(until)).toBe(1_000)
    breaker.open()
    expect(breaker.retryAfter(Date.now())).toBeUndefined()
  })

  it('a share that throws changes no outcome and keeps nothing: the probe slot is given back, the breaker still learns', async () => {
    const fail = () => {
      throw new Error('share failed')
    }
    const share: BreakerShare = { connect() {}, acquireProbe: async () => true, releaseProbe: fail, record: fail, publish: fail }
    const { stage, breaker, attempt } = setup({}, share)
    breaker.open(1_000)
    vi.advanceTimersByTime(1_000)
    const probe = attempt()
    const ticket = await stage.admit(breaker, probe, Date.now())
    expect(ticket).toMatchObject({ lease: true })
    expect(() => stage.settle(breaker, probe, ticket as never, ok(200))).not.toThrow()
    expect(breaker.state).toBe('closed')
    expect(breaker.busy).toBe(false)
  })

  it('a share that never answers for the probe: the attempt leaves at its abort or the total deadline, the slot given back, a late permit returned', async () => {
    let grant!: (granted: boolean) => void
    const share: BreakerShare = { connect() {}, acquireProbe: () => new Promise((resolve) => (grant = resolve)), releaseProbe: vi.fn() }
    const { stage, breaker, seen } = setup({}, share)
    breaker.open(1_000)
    vi.advanceTimersByTime(1_000)
    const controller = new AbortController()
    const reason = new Error('user left')
    const byAbort = stage.admit(breaker, { call: testCall({ timeout: normalizeTimeout({ attempt: 1_000, total: false }) }), signal: controller.signal, start: Date.now() }, Date.now())
    controller.abort(reason)
    expect(await byAbort).toEqual(aborted(reason))
    expect(breaker.busy).toBe(false)
    grant(true)
    await vi.advanceTimersByTimeAsync(0)
    expect(share.releaseProbe).toHaveBeenCalledWith(KEY)
    const call = testCall({ timeout: normalizeTimeout({ attempt: 300, total: 500 }), deadline: Date.now() + 500 })
    const byDeadline = stage.admit(breaker, { call, signal: undefined, start: Date.now() }, Date.now())
    await vi.advanceTimersByTimeAsync(500)
    const refused = (await byDeadline) as { kind: string; reason: string; error: unknown }
    expect(refused).toMatchObject({ kind: 'refused', reason: 'deadline' })
    expect(refused.error).toMatchObject({ name: 'TimeoutError', timeout: 500, scope: 'total' })
    expect(breaker.busy).toBe(false)
    expect(vi.getTimerCount()).toBe(0)
    expect(seen.filter((e) => e.type === 'reject')).toEqual([])
  })

  it("a share whose initial() throws knows nothing: the key starts closed and its calls go on", async () => {
    const share: BreakerShare = {
      connect() {},
      initial: () => {
        throw new Error('storage blocked')
      },
    }
    const { breaker, pass } = setup({}, share)
    expect(breaker.state).toBe('closed')
    expect(await pass({ kind: 'response', response: new Response('ok'), failure: false, duration: 1 })).not.toBe(-1)
  })

  it('a share that fails after the attempt left is told once that the probe it records is over; one that fails in time is told once, when the probe ends', async () => {
    let fail!: (error: Error) => void
    const share: BreakerShare = { connect() {}, acquireProbe: () => new Promise((_, reject) => (fail = reject)), releaseProbe: vi.fn() }
    const { stage, breaker } = setup({}, share)
    breaker.open(1_000)
    vi.advanceTimersByTime(1_000)
    const controller = new AbortController()
    const left = stage.admit(breaker, { call: testCall({ timeout: normalizeTimeout({ attempt: 1_000, total: false }) }), signal: controller.signal, start: Date.now() }, Date.now())
    controller.abort(new Error('user left'))
    await left
    fail(new Error('coordinator down'))
    await vi.advanceTimersByTimeAsync(0)
    expect(share.releaseProbe).toHaveBeenCalledTimes(1)

    // In time: the probe goes ahead and is released once, when it ends (not also by the failure).
    vi.mocked(share.releaseProbe!).mockClear()
    const inTime = stage.admit(breaker, { call: testCall({ timeout: normalizeTimeout({ attempt: 1_000, total: false }) }), signal: undefined, start: Date.now() }, Date.now())
    fail(new Error('coordinator down'))
    const ticket = await inTime
    expect(ticket).toMatchObject({ lease: true })
    await vi.advanceTimersByTimeAsync(0)
    expect(share.releaseProbe).not.toHaveBeenCalled()
  })
})

describe('a lost probe', () => {
  it('a probe that never settles (its runtime dropped it) is a timeout a second past its attempt deadline: the breaker re-opens, then probes again; its late outcome moves nothing', async () => {
    const { stage, breaker, attempt, pass, seen } = setup({ openDuration: 5_000 })
    await pass(networkError())
    await pass(networkError())
    expect(breaker.state).toBe('open')
    vi.advanceTimersByTime(5_000)
    // The probe is admitted (attempt deadline 1 000 ms) and never settles.
    const lost = attempt()
    const ticket = await stage.admit(breaker, lost, Date.now())
    expect(typeof ticket).toBe('number')
    expect(breaker.state).toBe('half-open')
    vi.advanceTimersByTime(2_000)
    // Within the grace the slot is still the probe's (a second past its deadline, to the millisecond); past it, the probe is a timeout and the breaker re-opens.
    expect(stage.refuses!(breaker, testCall(), Date.now())).toMatchObject({ reason: 'open' })
    expect(breaker.state).toBe('half-open')
    vi.advanceTimersByTime(1)
    expect(stage.refuses!(breaker, testCall(), Date.now())).toMatchObject({ reason: 'open' })
    expect(breaker.state).toBe('open')
    expect(seen.filter((e) => e.type === 'statechange').map(({ detail }) => `${detail.from}>${detail.to}`)).toEqual(['closed>open', 'open>half-open', 'half-open>open'])
    // The lost probe's outcome, if it ever comes, is stale.
    stage.settle(breaker, lost, ticket as never, ok(200))
    expect(breaker.state).toBe('open')
    // The next open period ends in a probe as any other does.
    vi.advanceTimersByTime(10_000)
    await pass(ok(200))
    expect(breaker.state).toBe('closed')
  })

  it('a lost probe is taken for lost at most as long after a clock set back as its deadline was after the open began', async () => {
    const { stage, breaker, attempt, pass } = setup({ openDuration: 5_000 })
    await pass(networkError())
    await pass(networkError())
    vi.advanceTimersByTime(5_000)
    expect(typeof (await stage.admit(breaker, attempt(), Date.now()))).toBe('number')
    vi.setSystemTime(Date.now() - 3_600_000)
    // Its deadline was 6 s after the open began (5 s open, 1 s attempt).
    expect(stage.refuses!(breaker, testCall(), Date.now())).toMatchObject({ reason: 'open', error: { retryAfter: 6_000 } })
    vi.advanceTimersByTime(7_000)
    expect(breaker.state).toBe('half-open')
    vi.advanceTimersByTime(1)
    expect(stage.refuses!(breaker, testCall(), Date.now())).toMatchObject({ reason: 'open' })
    expect(breaker.state).toBe('open')
  })
})

describe('a lost probe whose call has only a total deadline', () => {
  it("is a timeout a second past the call's total deadline (its attempt's deadline), and a refusal meanwhile waits for that deadline", async () => {
    const { stage, breaker } = setup({ openDuration: 1_000 })
    breaker.open(1_000)
    vi.advanceTimersByTime(1_000)
    const lost: Attempt = { call: testCall({ timeout: normalizeTimeout({ attempt: false, total: 3_000 }), deadline: Date.now() + 3_000 }), signal: undefined, start: Date.now() }
    expect(typeof (await stage.admit(breaker, lost, Date.now()))).toBe('number')
    vi.advanceTimersByTime(1_000)
    expect((stage.refuses!(breaker, testCall(), Date.now())!.error as CircuitOpenError).retryAfter).toBe(2_000)
    vi.advanceTimersByTime(3_000)
    expect(breaker.state).toBe('half-open')
    vi.advanceTimersByTime(1)
    expect(stage.refuses!(breaker, testCall(), Date.now())).toMatchObject({ reason: 'open' })
    expect(breaker.state).toBe('open')
  })
})

describe('what the breaker counts, and whose outcome it is', () => {
  it('a probe with no attempt deadline is never taken for lost: the breaker stays half-open while it runs, and a refusal carries no retryAfter', () => {
    const { stage, breaker } = setup({ openDuration: 1_000 })
    breaker.open(1_000)
    vi.advanceTimersByTime(1_000)
    const probe: Attempt = { call: testCall({ timeout: normalizeTimeout({ attempt: false, total: false }) }), signal: undefined, start: Date.now() }
    const ticket = stage.admit(breaker, probe, Date.now())
    expect(typeof ticket).toBe('number')
    vi.advanceTimersByTime(60_000)
    const refused = stage.refuses!(breaker, testCall(), Date.now())
    expect(refused).toMatchObject({ reason: 'open' })
    expect((refused!.error as CircuitOpenError).retryAfter).toBeUndefined()
    expect(breaker.state).toBe('half-open')
    stage.settle(breaker, probe, ticket as number, ok(200))
    expect(breaker.state).toBe('closed')
  })

  it('a success never opens the breaker, even when older successes leaving the window raise the failure rate; the next failure does', async () => {
    const { breaker, pass } = setup({ window: { type: 'time', duration: 10_000 }, failureThreshold: 2, failureRate: 0.5 })
    for (let i = 0; i < 3; i++) await pass(ok(200))
    vi.advanceTimersByTime(5_000)
    await pass(networkError())
    await pass(networkError())
    // 2 failures in 5 calls.
    expect(breaker.state).toBe('closed')
    vi.advanceTimersByTime(5_000)
    // The first three have left the window: 2 failures in 3 calls, yet this call succeeded.
    await pass(ok(200))
    expect(breaker.state).toBe('closed')
    await pass(networkError())
    expect(breaker.state).toBe('open')
  })

  it("an attempt admitted before the breaker opened gives back no slot when its caller aborts it during half-open: the probe's slot stays taken", async () => {
    const { stage, breaker, attempt, pass } = setup({ openDuration: 1_000 })
    const early = attempt()
    const earlyTicket = stage.admit(breaker, early, Date.now())
    await pass(networkError())
    await pass(networkError())
    expect(breaker.state).toBe('open')
    vi.advanceTimersByTime(1_000)
    const probe = attempt()
    const ticket = stage.admit(breaker, probe, Date.now())
    expect(typeof ticket).toBe('number')
    stage.settle(breaker, early, earlyTicket as number, aborted(new Error('caller')))
    expect(stage.admit(breaker, attempt(), Date.now())).toMatchObject({ kind: 'refused', reason: 'open' })
    stage.settle(breaker, probe, ticket as number, ok(200))
    expect(breaker.state).toBe('closed')
  })

  it('a 503 with Retry-After admitted before the breaker opened does not lengthen the open period: its outcome is stale', async () => {
    const { stage, breaker, attempt, pass } = setup({ openDuration: 1_000 })
    const early = attempt()
    const earlyTicket = stage.admit(breaker, early, Date.now())
    await pass(networkError())
    await pass(networkError())
    const nextProbeAt = breaker.snapshot(Date.now()).nextProbeAt
    expect(nextProbeAt).toBeLessThanOrEqual(Date.now() + 1_000)
    stage.settle(breaker, early, earlyTicket as number, ok(503, { 'retry-after': '60' }))
    expect(breaker.snapshot(Date.now())).toMatchObject({ state: 'open', nextProbeAt })
  })
})
