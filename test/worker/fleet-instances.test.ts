/**
 * In workerd, with a real BreakerCoordinator: one durableObjectShare per isolate, given to each instance the isolate
 * makes. Every instance takes the fleet's open, the first made as the last.
 */
import { env } from 'cloudflare:workers'
import { describe, expect, it, vi } from 'vitest'
import { createResilientFetch } from '../../src/index.js'
import { durableObjectShare, type CoordinatorNamespace } from '../../src/worker/index.js'
import { callSettled, fakeUpstream } from './helpers.js'

const BREAKERS = env.BREAKERS as CoordinatorNamespace
const breaker = { failureThreshold: 2, openDuration: 60_000 }

describe('durableObjectShare in workerd: several instances on one share', () => {
  it('each instance of the isolate takes the open the fleet decided on another isolate\'s failures', async () => {
    vi.useRealTimers()
    const origin = 'http://fleet-instances-1.test'
    const url = `${origin}/x`
    const up = fakeUpstream(() => Response.json({ ok: true }))
    const share = durableObjectShare(BREAKERS, { breaker, minReporters: 1, syncInterval: 1 })
    const instances = [0, 1].map(() => createResilientFetch({ fetch: up.fetch, retry: false, fallback: false, breaker, share }))
    for (const rf of instances) expect(await callSettled(rf, url)).toBe(200)
    const down = fakeUpstream(() => new Response('down', { status: 500 }))
    const other = createResilientFetch({ fetch: down.fetch, retry: false, fallback: false, breaker, share: durableObjectShare(BREAKERS, { breaker, minReporters: 1 }) })
    expect([await callSettled(other, url), await callSettled(other, url)]).toEqual([500, 500])
    // The first instance's next call brings the fleet's open to the isolate.
    expect(await callSettled(instances[0]!, url)).toBe(200)
    expect(instances.map((rf) => rf.breaker(origin)!.state)).toEqual(['open', 'open'])
    expect(await Promise.all(instances.map((rf) => callSettled(rf, url)))).toEqual(['CircuitOpenError', 'CircuitOpenError'])
    expect(up.seen).toHaveLength(3)
  })
})
