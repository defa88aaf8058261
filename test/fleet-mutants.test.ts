/**
 * The fleet share's client side (src/breaker/shared.ts through durableObjectShare): behaviour pinned by mutation
 * testing, each test failing when the line it names is changed.
 */
import { afterEach, describe, expect, it, vi } from 'vitest'
import { createResilientFetch } from '../src/index.js'
import { durableObjectShare } from '../src/worker/share.js'
import { memoryNamespace } from './coordinator-fakes.js'
import { backgroundWork, controlledTransport } from './helpers.js'

const URL_A = 'https://a.test/x'
const KEY = 'https://a.test'
// Request and Response bodies in Node settle through setImmediate: leave it real.
const FAKED = ['Date', 'setTimeout', 'clearTimeout'] as const
const breaker = { failureThreshold: 1, openDuration: 1_000 }
const { resilience, settle } = backgroundWork()

/** Lets the in-memory object answer (its bodies settle through setImmediate) until `done`. */
async function until(done: () => boolean): Promise<void> {
  for (let i = 0; i < 50 && !done(); i++) await new Promise((r) => setImmediate(r))
  expect(done()).toBe(true)
}

afterEach(() => {
  vi.useRealTimers()
})

describe('durableObjectShare: the probe permit lasts as long as the probe may run', () => {
  it('a probe with only a total deadline (60 s) holds the fleet permit past 30 s: no second isolate probes meanwhile', async () => {
    vi.useFakeTimers({ now: 1_000_000, toFake: [...FAKED] })
    const ns = memoryNamespace()
    const c = controlledTransport()
    const rf = createResilientFetch({ fetch: c.fetch, retry: false, fallback: false, timeout: { attempt: false, total: 60_000 }, breaker, share: durableObjectShare(ns.namespace, { breaker, minReporters: 1 }) })
    const first = rf(URL_A, { resilience }).then((r) => r.status)
    await until(() => c.pending.length === 1)
    c.pending[0]!.respond(500)
    expect(await first).toBe(500)
    await settle()
    const fleet = () => ns.objects.get(KEY)!.fleet!
    expect(fleet().state).toBe('open')
    vi.advanceTimersByTime(1_000)
    // The probe: its attempt may run until the call's total deadline, 60 s from now.
    const probe = rf(URL_A, { resilience }).then((r) => r.status)
    await until(() => c.pending.length === 1)
    expect(fleet().outstanding(Date.now())).toBe(1)
    vi.advanceTimersByTime(40_000)
    expect(fleet().outstanding(Date.now())).toBe(1)
    const other = durableObjectShare(ns.namespace, { breaker, minReporters: 1 })
    expect(await other.acquireProbe(KEY, 5_000)).toBe(false)
    c.pending[0]!.respond(200)
    expect(await probe).toBe(200)
    await settle()
    expect(fleet().state).toBe('closed')
  })
})

describe('a half-open probe waiting for a slow share', () => {
  it('with no deadline at all, waits for the share as long as it takes, then probes', async () => {
    vi.useFakeTimers({ now: 1_000_000, toFake: [...FAKED] })
    let grant!: (granted: boolean) => void
    const acquireProbe = vi.fn((_key: string, ttl: number) => new Promise<boolean>((resolve) => (grant = resolve)))
    const share = { connect() {}, acquireProbe, releaseProbe: vi.fn() }
    const c = controlledTransport()
    const rf = createResilientFetch({ fetch: c.fetch, retry: false, fallback: false, timeout: false, breaker, share })
    const first = rf(URL_A).then((r) => r.status)
    await until(() => c.pending.length === 1)
    c.pending[0]!.respond(500)
    expect(await first).toBe(500)
    vi.advanceTimersByTime(1_000)
    let settled = false
    const probe = rf(URL_A).then((r) => ((settled = true), r.status))
    await until(() => acquireProbe.mock.calls.length === 1)
    // 30 s: the permit's term for a probe with no deadline.
    expect(acquireProbe.mock.calls[0]![1]).toBe(30_000)
    await vi.advanceTimersByTimeAsync(120_000)
    expect([settled, c.pending.length]).toEqual([false, 0])
    grant(true)
    await until(() => c.pending.length === 1)
    c.pending[0]!.respond(200)
    expect(await probe).toBe(200)
    expect(acquireProbe).toHaveBeenCalledTimes(1)
  })
})
