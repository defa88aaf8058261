/**
 * durableObjectShare and a breaker set by hand in one isolate: disabled or forced open, it is that isolate's own until
 * it leaves that state (BreakerControl: "until close() or reset()"), whatever the fleet's object decides meanwhile.
 */
import { afterEach, describe, expect, it, vi } from 'vitest'
import { CircuitOpenError, createResilientFetch } from '../src/index.js'
import { durableObjectShare, type CoordinatorNamespace } from '../src/worker/share.js'
import { memoryNamespace } from './coordinator-fakes.js'
import { backgroundWork, controlledTransport, flush, statusTransport } from './helpers.js'

const URL_A = 'https://a.test/x'
const KEY = 'https://a.test'
// Request and Response bodies in Node settle through setImmediate: leave it real.
const FAKED = ['Date', 'setTimeout', 'clearTimeout'] as const
const breaker = { failureThreshold: 2, openDuration: 60_000 }
const { resilience, settle } = backgroundWork()

function isolate(namespace: CoordinatorNamespace, fetch: typeof globalThis.fetch) {
  return createResilientFetch({ fetch, retry: false, fallback: false, timeout: false, breaker, share: durableObjectShare(namespace, { breaker, minReporters: 1 }) })
}

const outcome = (p: Promise<Response>) => p.then((r) => r.status, (e: Error) => e.name)

afterEach(() => {
  vi.useRealTimers()
})

describe('durableObjectShare: a breaker disabled or forced open by hand stays so', () => {
  it('a disabled breaker is not opened by the fleet: its calls still go through after the fleet opened', async () => {
    vi.useFakeTimers({ now: 1_000_000, toFake: [...FAKED] })
    const ns = memoryNamespace()
    const ok = statusTransport(200)
    const disabled = isolate(ns.namespace, ok.fetch)
    const failing = isolate(ns.namespace, statusTransport(500).fetch)
    await disabled(URL_A, { resilience })
    await settle()
    disabled.breaker(KEY)!.disable()
    await failing(URL_A, { resilience })
    await failing(URL_A, { resilience })
    await settle()
    expect(ns.objects.get(KEY)!.fleet!.state).toBe('open')
    // Past syncInterval, and whatever the share hears, its calls still go through.
    vi.advanceTimersByTime(2_000)
    expect(await outcome(disabled(URL_A, { resilience }))).toBe(200)
    await settle()
    expect(disabled.breaker(KEY)!.state).toBe('disabled')
    expect(await outcome(disabled(URL_A, { resilience }))).toBe(200)
    expect(ok.mock).toHaveBeenCalledTimes(3)
    // close() ends the disable; from then it is the fleet's again.
    disabled.breaker(KEY)!.close()
    expect(await outcome(disabled(URL_A, { resilience }))).toBe(200)
    await settle()
    expect(disabled.breaker(KEY)!.state).toBe('closed')
  })

  it('a disabled breaker records nothing, for the fleet either: its failures do not open the fleet, nor itself through it', async () => {
    vi.useFakeTimers({ now: 1_000_000, toFake: [...FAKED] })
    const ns = memoryNamespace()
    const t = statusTransport(500)
    const disabled = isolate(ns.namespace, t.fetch)
    await outcome(disabled(URL_A, { resilience }))
    await settle()
    disabled.breaker(KEY)!.disable()
    for (let i = 0; i < 4; i++) expect(await outcome(disabled(URL_A, { resilience }))).toBe(500)
    await settle()
    expect(ns.objects.get(KEY)!.fleet!.failures(Date.now())).toBe(1)
    expect(ns.objects.get(KEY)!.fleet!.state).toBe('closed')
    expect(disabled.breaker(KEY)!.state).toBe('disabled')
  })

  it('a forced open is not replaced by a fleet open heard with the outcome of a call admitted before it', async () => {
    vi.useFakeTimers({ now: 1_000_000, toFake: [...FAKED] })
    const ns = memoryNamespace()
    const c = controlledTransport()
    const forced = isolate(ns.namespace, c.fetch)
    const failing = isolate(ns.namespace, statusTransport(500).fetch)
    const inFlight = outcome(forced(URL_A, { resilience }))
    await flush()
    forced.breaker(KEY)!.open()
    vi.advanceTimersByTime(1)
    await failing(URL_A, { resilience })
    await failing(URL_A, { resilience })
    await settle()
    expect(ns.objects.get(KEY)!.fleet!.state).toBe('open')
    c.pending.shift()!.respond(200)
    expect(await inFlight).toBe(200)
    await settle()
    expect(forced.breaker(KEY)!.state).toBe('forced-open')
    // An outage switch: it still refuses when the fleet's open would have ended.
    vi.advanceTimersByTime(60_000)
    await expect(forced(URL_A, { resilience })).rejects.toBeInstanceOf(CircuitOpenError)
    expect(forced.breaker(KEY)!.state).toBe('forced-open')
  })
})
