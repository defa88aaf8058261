/**
 * One durableObjectShare per isolate, given to every instance the isolate makes (as its JSDoc asks: module scope, not
 * per request): each instance hears the fleet's state, not only the last one made.
 */
import { afterEach, describe, expect, it, vi } from 'vitest'
import { CircuitOpenError, createResilientFetch } from '../src/index.js'
import { durableObjectShare } from '../src/worker/share.js'
import { memoryNamespace } from './coordinator-fakes.js'
import { backgroundWork, statusTransport } from './helpers.js'

const URL_A = 'https://a.test/x'
const KEY = 'https://a.test'
// Request and Response bodies in Node settle through setImmediate: leave it real.
const FAKED = ['Date', 'setTimeout', 'clearTimeout'] as const
const breaker = { failureThreshold: 2, openDuration: 60_000 }
const { resilience, settle } = backgroundWork()

afterEach(() => {
  vi.useRealTimers()
})

describe('durableObjectShare given to several instances of one isolate', () => {
  it('every instance on the share takes the fleet\'s open, the first made as the last', async () => {
    vi.useFakeTimers({ now: 1_000_000, toFake: [...FAKED] })
    const ns = memoryNamespace()
    const share = durableObjectShare(ns.namespace, { breaker, minReporters: 1 })
    const ok = statusTransport(200)
    const instances = [0, 1].map(() => createResilientFetch({ fetch: ok.fetch, retry: false, fallback: false, breaker, share }))
    for (const rf of instances) await rf(URL_A, { resilience })
    await settle()
    // Another isolate's failures open the fleet.
    const other = createResilientFetch({ fetch: statusTransport(500).fetch, retry: false, fallback: false, breaker, share: durableObjectShare(ns.namespace, { breaker, minReporters: 1 }) })
    await other(URL_A, { resilience })
    await other(URL_A, { resilience })
    await settle()
    expect(ns.objects.get(KEY)!.fleet!.state).toBe('open')
    // Past syncInterval, the first instance's next call brings the fleet's state to the isolate: both take it.
    vi.advanceTimersByTime(2_000)
    expect((await instances[0]!(URL_A, { resilience })).status).toBe(200)
    await settle()
    expect(instances.map((rf) => rf.breaker(KEY)!.state)).toEqual(['open', 'open'])
    for (const rf of instances) await expect(rf(URL_A, { resilience })).rejects.toBeInstanceOf(CircuitOpenError)
    expect(ok.mock).toHaveBeenCalledTimes(3)
  })

  it('a breaker disabled by hand in one instance stays so, while the other instance on the share takes the fleet\'s open', async () => {
    vi.useFakeTimers({ now: 1_000_000, toFake: [...FAKED] })
    const ns = memoryNamespace()
    const share = durableObjectShare(ns.namespace, { breaker, minReporters: 1 })
    const ok = statusTransport(200)
    const [disabled, following] = [0, 1].map(() => createResilientFetch({ fetch: ok.fetch, retry: false, fallback: false, breaker, share }))
    for (const rf of [disabled!, following!]) await rf(URL_A, { resilience })
    await settle()
    disabled!.breaker(KEY)!.disable()
    const other = createResilientFetch({ fetch: statusTransport(500).fetch, retry: false, fallback: false, breaker, share: durableObjectShare(ns.namespace, { breaker, minReporters: 1 }) })
    await other(URL_A, { resilience })
    await other(URL_A, { resilience })
    await settle()
    // Past syncInterval the following instance's next call brings the fleet's open to the isolate: the disabled one keeps its disable.
    vi.advanceTimersByTime(2_000)
    expect((await following!(URL_A, { resilience })).status).toBe(200)
    await settle()
    expect([disabled!, following!].map((rf) => rf.breaker(KEY)!.state)).toEqual(['disabled', 'open'])
    expect((await disabled!(URL_A, { resilience })).status).toBe(200)
    await expect(following!(URL_A, { resilience })).rejects.toBeInstanceOf(CircuitOpenError)
  })
})
