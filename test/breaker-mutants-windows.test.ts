/**
 * The breaker's windows through the public surface: slow runs in a consecutive window, where a time window's
 * edge lies, failures dated ahead of a clock set back, and the slow-call rate.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { createResilientFetch, type ResilientFetchOptions } from '../src/index.js'

const URL_A = 'https://a.test/x'
const KEY = 'https://a.test'
const T = 1_000_000

/** A transport that answers each call with the next [status, ms] given (the last repeats), after that many ms (0: at once). */
function timedTransport(...answers: [status: number, ms: number][]) {
  let i = 0
  return vi.fn((): Promise<Response> => {
    const [status, ms] = answers[Math.min(i++, answers.length - 1)]!
    if (ms === 0) return Promise.resolve(new Response(null, { status }))
    return new Promise((resolve) => setTimeout(() => resolve(new Response(null, { status })), ms))
  }) as unknown as typeof fetch
}

function make(fetch: typeof globalThis.fetch, breaker: ResilientFetchOptions['breaker']) {
  return createResilientFetch({ fetch, retry: false, fallback: false, timeout: false, breaker })
}

/** Makes `n` calls one after another, letting each one's answer come. */
async function calls(rf: ReturnType<typeof make>, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    const p = rf(URL_A)
    await vi.advanceTimersByTimeAsync(1_000)
    await p
  }
}

beforeEach(() => void vi.useFakeTimers({ now: T }))
afterEach(() => void vi.useRealTimers())

describe('a consecutive window', () => {
  it('opens on a run of slow successes as long as failureThreshold', async () => {
    const rf = make(timedTransport([200, 500]), { window: 'consecutive', failureThreshold: 3, slowCall: { duration: 100, rate: 1 } })
    await calls(rf, 2)
    expect(rf.snapshot().breakers[0]).toMatchObject({ state: 'closed', calls: 2, failures: 0, slowCalls: 2 })
    await calls(rf, 1)
    expect(rf.breaker(KEY)!.state).toBe('open')
  })

  it('counts a run of failures as that many calls, all failed', async () => {
    const rf = make(timedTransport([500, 0]), { window: 'consecutive', failureThreshold: 5 })
    await calls(rf, 3)
    expect(rf.snapshot().breakers[0]).toMatchObject({ state: 'closed', calls: 3, failures: 3, slowCalls: 0, failureRate: 1 })
  })
})

describe('a time window', () => {
  it('forgets a failure from the start of a bucket exactly one duration later, not a bucket after', async () => {
    const rf = make(timedTransport([500, 0]), { window: { type: 'time', duration: 10_000 }, failureThreshold: 5 })
    await rf(URL_A)
    vi.setSystemTime(T + 9_999)
    expect(rf.snapshot().breakers[0]).toMatchObject({ calls: 1, failures: 1 })
    vi.setSystemTime(T + 10_000)
    expect(rf.snapshot().breakers[0]).toMatchObject({ calls: 0, failures: 0 })
  })

  it('forgets failures dated after a clock set back: they do not add to the failures after it', async () => {
    const rf = make(timedTransport([500, 0]), { window: { type: 'time', duration: 10_000 }, failureThreshold: 3 })
    await rf(URL_A)
    await rf(URL_A)
    // An hour back, and half a bucket on, so the next failure goes to another bucket than the two before.
    vi.setSystemTime(T - 3_600_000 + 500 + 5_000)
    expect(rf.snapshot().breakers[0]).toMatchObject({ calls: 0, failures: 0 })
    await rf(URL_A)
    expect(rf.snapshot().breakers[0]).toMatchObject({ state: 'closed', calls: 1, failures: 1 })
  })

  it('ages out the second bucket since the epoch like any other (a clock near 0)', async () => {
    vi.setSystemTime(1_500)
    const rf = make(timedTransport([500, 0]), { window: { type: 'time', duration: 10_000 }, failureThreshold: 5 })
    await rf(URL_A)
    vi.setSystemTime(20_000)
    expect(rf.snapshot().breakers[0]).toMatchObject({ calls: 0, failures: 0 })
  })
})

describe('the slow-call rate', () => {
  const slowCall = { duration: 100, rate: 0.5 }

  it('keeps it closed while slow calls are under slowCall.rate of the calls', async () => {
    const rf = make(timedTransport([200, 0], [200, 0], [200, 0], [200, 500]), { window: { type: 'count', size: 10 }, failureThreshold: 2, slowCall })
    await calls(rf, 5)
    expect(rf.snapshot().breakers[0]).toMatchObject({ state: 'closed', calls: 5, slowCalls: 2 })
  })

  it('opens it when slow calls are exactly slowCall.rate of the calls', async () => {
    const rf = make(timedTransport([200, 0], [200, 0], [200, 500]), { window: { type: 'count', size: 10 }, failureThreshold: 2, slowCall })
    await calls(rf, 4)
    expect(rf.breaker(KEY)!.state).toBe('open')
  })
})
