/**
 * Durations the fleet's breaker cannot hold: refused where they are given (durableObjectShare's options) and where they
 * arrive (the BreakerCoordinator's message check), as the instance's own breaker refuses them.
 */
import { afterEach, describe, expect, it, vi } from 'vitest'
import { BreakerCoordinator } from '../src/worker/coordinator.js'
import { readMessage, type CoordinatorAnswer, type FleetOptions } from '../src/worker/protocol.js'
import { durableObjectShare, type CoordinatorNamespace } from '../src/worker/share.js'
import { memoryState } from './coordinator-fakes.js'

const OPTIONS: FleetOptions = { failureThreshold: 1, window: 10_000, openDuration: 1_000, probes: 1, successesToClose: 1, minReporters: 1 }
/** The longest a timer can wait (2^31 − 1 ms), the bound of the instance's own durations. */
const MAX = 2_147_483_647
const namespace: CoordinatorNamespace = { idFromName: (name) => name, get: (() => ({ fetch: async () => new Response() })) as never }

afterEach(() => {
  vi.useRealTimers()
})

describe('the fleet breaker and durations past what a timer can wait', () => {
  it('durableObjectShare refuses a timeout, window or openDuration longer than a timer can wait, naming it', () => {
    expect(() => durableObjectShare(namespace, { timeout: MAX, breaker: { window: MAX, openDuration: MAX } })).not.toThrow()
    expect(() => durableObjectShare(namespace, { timeout: MAX + 1 })).toThrow(new RangeError(`durableObjectShare options.timeout must be at most ${MAX} ms, got ${MAX + 1}`))
    expect(() => durableObjectShare(namespace, { breaker: { window: 2 ** 40 } })).toThrow(/^durableObjectShare options\.breaker\.window must be at most/)
    expect(() => durableObjectShare(namespace, { breaker: { openDuration: Number.MAX_SAFE_INTEGER } })).toThrow(/^durableObjectShare options\.breaker\.openDuration must be at most/)
    expect(() => durableObjectShare(namespace, { breaker: { openDuration: 1.5 } })).toThrow(/openDuration must be a positive integer/)
  })

  it('the object refuses a message whose window or openDuration is longer than that, and its open keeps the length it was given', async () => {
    vi.useFakeTimers({ now: 1_000_000, toFake: ['Date'] })
    expect(readMessage({ options: { ...OPTIONS, window: MAX, openDuration: MAX } })).toBeDefined()
    expect(readMessage({ options: { ...OPTIONS, window: MAX + 1 } })).toBeUndefined()
    expect(readMessage({ options: { ...OPTIONS, openDuration: 6e12 } })).toBeUndefined()
    const state = memoryState()
    const object = new BreakerCoordinator(state.ctx)
    const post = (body: unknown) => object.fetch(new Request('https://c/sync', { method: 'POST', body: JSON.stringify(body) }))
    // An open of two centuries would refuse every probe of the fleet for good, whatever the isolates send next.
    expect((await post({ options: { ...OPTIONS, openDuration: 6e12 }, reporter: 'a', failures: 1 })).status).toBe(400)
    expect(object.fleet).toBeUndefined()
    const answer = (await (await post({ options: OPTIONS, reporter: 'a', failures: 1 })).json()) as CoordinatorAnswer
    expect(answer.view).toEqual({ state: 'open', at: 1_000_000, openedAt: 1_000_000, openUntil: 1_001_000 })
    expect(state.alarm()).toBe(1_001_000)
  })
})
