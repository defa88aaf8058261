import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import type { BreakerShare, ResilientFetchOptions, SharedBreakerState } from '../src/index.js'
import { controlledTransport, flush } from './helpers.js'

const URL_A = 'https://a.test/x'
const KEY = 'https://a.test'

// Each test loads the library afresh (vi.resetModules): the probe lease the setup installed is not there.
beforeEach(() => {
  vi.useFakeTimers({ now: 1_000_000 })
  vi.resetModules()
})
afterEach(() => {
  vi.useRealTimers()
})

/** A share that knows KEY open for 1 ms more and grants no probe; `asked` counts its acquireProbe calls. */
function openShare() {
  const open = (): SharedBreakerState => ({ state: 'open', at: Date.now(), openedAt: Date.now(), openUntil: Date.now() + 1 })
  const share = { connect() {}, initial: vi.fn(open), acquireProbe: vi.fn(async () => false) } satisfies BreakerShare
  return share
}

/** An instance of the fresh library on `share`, its key KEY created (the share knows it) and half-open. */
async function halfOpen(share: BreakerShare, options: ResilientFetchOptions = {}) {
  const { createResilientFetch } = await import('../src/index.js')
  const c = controlledTransport()
  const rf = createResilientFetch({ fetch: c.fetch, retry: false, fallback: false, timeout: false, breaker: { failureThreshold: 1, openDuration: 1000 }, share, ...options })
  expect(rf.breaker(KEY)!.state).toBe('open')
  vi.advanceTimersByTime(1)
  return { rf, c }
}

describe("the share's probe lease, its own chunk", () => {
  it('loads when an instance on a share that leases probes is created; a probe before it is there goes through without asking the share, as when the share fails', async () => {
    // Instances without such a share load nothing: had one asked for the chunk, it would be installed once the chunk is there.
    const { createResilientFetch } = await import('../src/index.js')
    createResilientFetch()
    createResilientFetch({ share: { connect() {} } })
    await import('../src/breaker/probe-lease.js')
    await flush(50)
    const share = openShare()
    const { rf, c } = await halfOpen(share)
    const probe = rf(URL_A)
    expect(share.acquireProbe).not.toHaveBeenCalled()
    expect(c.pending).toHaveLength(1)
    c.pending[0]!.respond(500)
    await probe
    expect(rf.breaker(KEY)!.state).toBe('open')
    // The chunk, loaded with the instance, is there now: the next probe asks the share, which refuses it.
    await import('../src/breaker/probe-lease.js')
    await flush(50)
    vi.advanceTimersByTime(1000)
    await expect(rf(URL_A)).rejects.toMatchObject({ name: 'CircuitOpenError' })
    expect(share.acquireProbe).toHaveBeenCalledTimes(1)
    expect(c.mock).toHaveBeenCalledTimes(1)
  })

  it.each([
    ['shareAcrossTabs()', async () => (await import('../src/share/tabs.js')).shareAcrossTabs().close()],
    ['durableObjectShare()', async () => void (await import('../src/worker/share.js')).durableObjectShare({ idFromName: () => ({}), get: () => ({ fetch: async () => new Response() }) })],
  ])('comes with %s: an instance on any share asks it for its first probe at once', async (_, create) => {
    await create()
    const share = openShare()
    const { rf, c } = await halfOpen(share)
    const probe = rf(URL_A)
    expect(share.acquireProbe).toHaveBeenCalledTimes(1)
    await expect(probe).rejects.toMatchObject({ name: 'CircuitOpenError' })
    expect(c.mock).not.toHaveBeenCalled()
  })
})
