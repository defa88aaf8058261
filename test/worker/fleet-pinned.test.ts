/**
 * In workerd, with a real BreakerCoordinator: a breaker disabled by hand in one isolate (rf.breaker(key).disable()) keeps
 * letting its calls through, and records nothing for the fleet either, until close().
 */
import { env } from 'cloudflare:workers'
import { describe, expect, it, vi } from 'vitest'
import { createResilientFetch } from '../../src/index.js'
import { durableObjectShare, type CoordinatorNamespace } from '../../src/worker/index.js'
import { callSettled, fakeUpstream } from './helpers.js'

const BREAKERS = env.BREAKERS as CoordinatorNamespace
let origins = 0

/** An isolate's instance on the fleet's objects (minReporters 1: any isolate's failures count). */
function isolate(fetch: typeof globalThis.fetch) {
  const breaker = { failureThreshold: 2, openDuration: 60_000 }
  return createResilientFetch({ fetch, retry: false, fallback: false, breaker, share: durableObjectShare(BREAKERS, { breaker, minReporters: 1, syncInterval: 1 }) })
}

describe('durableObjectShare in workerd: a disabled breaker stays disabled', () => {
  it('its failures do not open the fleet, and the fleet opened by the others does not open it', async () => {
    vi.useRealTimers()
    const origin = `http://fleet-pinned-${++origins}.test`
    const url = `${origin}/x`
    const down = fakeUpstream(() => new Response('down', { status: 500 }))
    const disabled = isolate(down.fetch)
    expect(await callSettled(disabled, url)).toBe(500)
    disabled.breaker(origin)!.disable()
    for (let i = 0; i < 3; i++) expect(await callSettled(disabled, url)).toBe(500)
    // Only the failure before the disable reached the object: the fleet is closed.
    const other = isolate(down.fetch)
    expect(await callSettled(other, url)).toBe(500)
    expect(other.breaker(origin)!.state).toBe('open')
    // The fleet opened on the other isolate's failure; the disabled one still lets its calls through.
    expect(await callSettled(disabled, url)).toBe(500)
    expect(await callSettled(disabled, url)).toBe(500)
    expect(disabled.breaker(origin)!.state).toBe('disabled')
    expect(down.seen).toHaveLength(7)
  })
})
