/**
 * durableObjectShare's probe ends: a probe released with no outcome recorded after it in the same turn (aborted) frees
 * its permit at the object, whatever other probe is released in that turn.
 */
import { afterEach, describe, expect, it, vi } from 'vitest'
import { durableObjectShare } from '../src/worker/share.js'
import { memoryNamespace } from './coordinator-fakes.js'

// Request and Response bodies in Node settle through setImmediate: leave it real.
const FAKED = ['Date', 'setTimeout', 'clearTimeout'] as const
/** Background work handed to waitUntil, settled by the test. */
const background: Promise<unknown>[] = []
const waitUntil = (p: Promise<unknown>) => void background.push(p)

async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) {
    await Promise.allSettled(background.splice(0))
    await new Promise((r) => setImmediate(r))
  }
}

afterEach(() => {
  vi.useRealTimers()
})

describe('durableObjectShare: probes released in one turn', () => {
  it('two probes aborted together (released, no outcome recorded) both free their permits', async () => {
    vi.useFakeTimers({ now: 1_000_000, toFake: [...FAKED] })
    const ns = memoryNamespace()
    const share = durableObjectShare(ns.namespace, { breaker: { failureThreshold: 1, openDuration: 1_000 }, minReporters: 1 })
    share.connect(() => {})
    const keys = ['https://a.test', 'https://b.test']
    for (const key of keys) share.record(key, true, false, waitUntil)
    await settle()
    expect(keys.map((key) => ns.objects.get(key)!.fleet!.state)).toEqual(['open', 'open'])
    vi.advanceTimersByTime(1_000)
    expect(await Promise.all(keys.map((key) => share.acquireProbe(key, 5_000, waitUntil)))).toEqual([true, true])
    expect(keys.map((key) => ns.objects.get(key)!.fleet!.outstanding(Date.now()))).toEqual([1, 1])
    // Both attempts abort at once: each probe ends with no verdict, so its permit is only freed.
    for (const key of keys) share.releaseProbe(key)
    await settle()
    expect(keys.map((key) => ns.objects.get(key)!.fleet!.outstanding(Date.now()))).toEqual([0, 0])
    // Freed, the next isolate to ask gets the permit at once, not after the first one's ttl.
    const next = durableObjectShare(ns.namespace, { breaker: { failureThreshold: 1, openDuration: 1_000 }, minReporters: 1 })
    expect(await Promise.all(keys.map((key) => next.acquireProbe(key, 5_000, waitUntil)))).toEqual([true, true])
  })
})
