/**
 * In workerd, with real BreakerCoordinators: two probes on two upstreams aborted at once (released with no outcome)
 * free both permits at once, so the fleet's next probe of each goes out without waiting for the permit's ttl.
 */
import { runInDurableObject } from 'cloudflare:test'
import { env } from 'cloudflare:workers'
import { afterEach, describe, expect, it, vi } from 'vitest'
import type { BreakerCoordinator } from '../../src/worker/coordinator.js'
import { durableObjectShare, type CoordinatorNamespace } from '../../src/worker/index.js'
import { context } from './helpers.js'

const BREAKERS = env.BREAKERS as CoordinatorNamespace & { idFromName(name: string): unknown; get(id: unknown): unknown }
const options = { breaker: { failureThreshold: 1, openDuration: 1_000 }, minReporters: 1 }

const outstanding = (key: string) =>
  runInDurableObject(BREAKERS.get(BREAKERS.idFromName(key)) as never, (object: BreakerCoordinator) => object.fleet?.outstanding(Date.now()))

afterEach(() => {
  vi.useRealTimers()
})

describe('durableObjectShare in workerd: probes released together', () => {
  it('both permits are freed at their objects', async () => {
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() })
    const keys = ['http://fleet-release-a.test', 'http://fleet-release-b.test']
    const ctx = context()
    const waitUntil = (p: Promise<unknown>) => ctx.waitUntil(p)
    const share = durableObjectShare(BREAKERS, options)
    share.connect(() => {})
    for (const key of keys) share.record(key, true, false, waitUntil)
    await ctx.settle()
    // Past the open: the next message finds each object half-open.
    vi.setSystemTime(Date.now() + 1_000)
    expect(await Promise.all(keys.map((key) => share.acquireProbe(key, 5_000, waitUntil)))).toEqual([true, true])
    expect(await Promise.all(keys.map(outstanding))).toEqual([1, 1])
    for (const key of keys) share.releaseProbe(key)
    // The ends go out in the background (no waitUntil is given to a release): a bounded number of turns.
    for (let i = 0; i < 100 && (await Promise.all(keys.map(outstanding))).some((n) => n !== 0); i++) await new Promise((r) => setTimeout(r, 0))
    expect(await Promise.all(keys.map(outstanding))).toEqual([0, 0])
  })
})
