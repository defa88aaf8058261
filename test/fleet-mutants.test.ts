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
