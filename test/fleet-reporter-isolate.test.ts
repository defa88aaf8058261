/**
 * The fleet's quorum (minReporters) counts isolates: every durableObjectShare made in one isolate reports as that isolate,
 * so two instances of one isolate never open the fleet by themselves. An isolate here is the library loaded afresh.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import type { CoordinatorNamespace } from '../src/worker/share.js'
import { memoryNamespace } from './coordinator-fakes.js'
import { backgroundWork, statusTransport } from './helpers.js'

const URL_A = 'https://a.test/x'
const KEY = 'https://a.test'
// Request and Response bodies in Node settle through setImmediate: leave it real.
const FAKED = ['Date', 'setTimeout', 'clearTimeout'] as const
const breaker = { failureThreshold: 2, openDuration: 60_000 }
const { resilience, settle } = backgroundWork()

beforeEach(() => {
  vi.useFakeTimers({ now: 1_000_000, toFake: [...FAKED] })
})
afterEach(() => {
  vi.useRealTimers()
})

/** A new isolate: its modules loaded afresh; it makes instances on shares of their own (minReporters 2, the default). */
async function isolate(namespace: CoordinatorNamespace) {
  vi.resetModules()
  const [{ createResilientFetch }, { durableObjectShare }] = await Promise.all([import('../src/index.js'), import('../src/worker/share.js')])
  return () => createResilientFetch({ fetch: statusTransport(500).fetch, retry: false, fallback: false, breaker, share: durableObjectShare(namespace, { breaker }) })
}

/** One failure through each instance, its report delivered. */
async function failOnce(instances: ((input: string, init: RequestInit) => Promise<Response>)[]) {
  for (const rf of instances) {
    await rf(URL_A, { resilience } as RequestInit)
    await settle()
  }
}

describe('durableObjectShare reports as its isolate', () => {
  it('two shares of one isolate are one reporter: their failures do not open the fleet with minReporters 2', async () => {
    const ns = memoryNamespace()
    const make = await isolate(ns.namespace)
    await failOnce([make(), make()])
    const fleet = ns.objects.get(KEY)!.fleet!
    expect([fleet.state, fleet.reporters(Date.now()), fleet.failures(Date.now())]).toEqual(['closed', 1, 2])
  })

  it('the id is drawn with the first message, not as the share is made (in global scope, in a Worker)', async () => {
    const ns = memoryNamespace()
    vi.resetModules()
    const [{ createResilientFetch }, { durableObjectShare }] = await Promise.all([import('../src/index.js'), import('../src/worker/share.js')])
    const random = vi.spyOn(Math, 'random')
    try {
      const share = durableObjectShare(ns.namespace, { breaker })
      expect(random).not.toHaveBeenCalled()
      await failOnce([createResilientFetch({ fetch: statusTransport(500).fetch, retry: false, fallback: false, breaker, share })])
      expect(random).toHaveBeenCalled()
      expect(ns.objects.get(KEY)!.fleet!.reporters(Date.now())).toBe(1)
    } finally {
      random.mockRestore()
    }
  })

  it('two isolates are two reporters: the same failures open the fleet', async () => {
    const ns = memoryNamespace()
    const [a, b] = [await isolate(ns.namespace), await isolate(ns.namespace)]
    await failOnce([a(), b()])
    expect(ns.objects.get(KEY)!.fleet!.state).toBe('open')
  })
})
