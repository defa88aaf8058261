import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import type { BreakerShare, SharedBreakerState } from '../src/index.js'
import { controlledTransport, flush } from './helpers.js'

const URL_A = 'https://a.test/x'
const KEY = 'https://a.test'

// Each test loads the library afresh (vi.resetModules): the share's side of the breaker stage, which the setup
// installed, is not there until a share entry installs it or an instance on a share loads it.
beforeEach(() => {
  vi.useFakeTimers({ now: 1_000_000 })
  vi.resetModules()
})
afterEach(() => {
  vi.useRealTimers()
})

/** A share of the user's own that knows KEY open for 1 ms more and grants no probe. */
function ownShare() {
  const open = (): SharedBreakerState => ({ state: 'open', at: Date.now(), openedAt: Date.now(), openUntil: Date.now() + 1 })
  return { connect: vi.fn(), initial: vi.fn(open), record: vi.fn(), acquireProbe: vi.fn(async () => false) }
}

/** An instance of the library as now loaded, on `share`. */
async function instance(share: BreakerShare) {
  const { createResilientFetch } = await import('../src/index.js')
  const c = controlledTransport()
  const rf = createResilientFetch({ fetch: c.fetch, retry: false, fallback: false, timeout: false, breaker: { failureThreshold: 1, openDuration: 1000 }, share })
  return { rf, c }
}

/** Lets the share's chunk, if an instance asked for it, arrive and be installed. */
async function chunkThere() {
  await import('../src/breaker/shared.js')
  await flush(50)
}

describe("the share's side of the breaker stage, its own chunk", () => {
  it('an instance on a share of its own loads it when created and acts as one without a share until it is there; then it connects, and its keys start from what the share knows', async () => {
    // An instance without a share loads nothing: had it asked for the chunk, the chunk would be installed by now.
    const { createResilientFetch } = await import('../src/index.js')
    createResilientFetch()
    await chunkThere()
    const share = ownShare()
    const { rf, c } = await instance(share)
    expect(share.connect).not.toHaveBeenCalled()
    expect(rf.breaker(KEY)).toBeUndefined()
    const first = rf(URL_A)
    expect(share.initial).not.toHaveBeenCalled()
    expect(c.pending).toHaveLength(1)
    await chunkThere()
    expect(share.connect).toHaveBeenCalledTimes(1)
    expect(share.initial).toHaveBeenCalledWith(KEY)
    expect(rf.breaker(KEY)!.state).toBe('open')
    c.pending[0]!.respond(500)
    await first
    expect(share.record).toHaveBeenCalledWith(KEY, true, false, undefined)
    // Half-open: the probe asks the share, which refuses it.
    vi.advanceTimersByTime(1)
    await expect(rf(URL_A)).rejects.toMatchObject({ name: 'CircuitOpenError' })
    expect(share.acquireProbe).toHaveBeenCalledTimes(1)
    expect(c.mock).toHaveBeenCalledTimes(1)
    // Loaded once, it is there for every instance made after: the next one shares from the start.
    const next = ownShare()
    await instance(next)
    expect(next.connect).toHaveBeenCalledTimes(1)
  })

  it("a state a key entered by itself while the chunk loaded is published when it arrives (the share's publish is not lost); one the share's initial then replaced is not", async () => {
    const share = { ...ownShare(), initial: vi.fn((_key: string): SharedBreakerState | undefined => undefined), publish: vi.fn() }
    const { rf, c } = await instance(share)
    // Before the chunk: the key's breaker opens on its own (failureThreshold 1).
    const first = rf(URL_A)
    c.pending[0]!.respond(500)
    await first
    expect(rf.breaker(KEY)!.state).toBe('open')
    // A second key opens too, but the share knows a newer state for it, which it takes when the chunk arrives.
    const other = rf('https://b.test/y')
    c.pending[0]!.respond(500)
    await other
    vi.advanceTimersByTime(10)
    const closedLater = { state: 'closed', at: Date.now() } as const
    share.initial.mockImplementation((key: string) => (key === 'https://b.test' ? closedLater : undefined))
    expect(share.publish).not.toHaveBeenCalled()
    await chunkThere()
    expect(share.connect).toHaveBeenCalledTimes(1)
    expect(rf.breaker('https://b.test')!.state).toBe('closed')
    expect(share.publish).toHaveBeenCalledTimes(1)
    expect(share.publish).toHaveBeenCalledWith(KEY, expect.objectContaining({ state: 'open', at: 1_000_000, openUntil: 1_001_000 }))
    // From then on, as usual: a change is published when it happens.
    rf.breaker(KEY)!.close()
    expect(share.publish).toHaveBeenCalledTimes(2)
    expect(share.publish).toHaveBeenLastCalledWith(KEY, expect.objectContaining({ state: 'closed' }))
  })

  it('a share of its own whose connect throws when the chunk arrives late leaves nothing unhandled (Node would exit), and the instance goes on without it', async () => {
    const broken = () => {
      throw new Error('connect broke')
    }
    const share = { ...ownShare(), initial: vi.fn((): SharedBreakerState | undefined => undefined), connect: vi.fn(broken) }
    const unhandled = vi.fn()
    process.on('unhandledRejection', unhandled)
    try {
      const { rf, c } = await instance(share)
      await chunkThere()
      expect(share.connect).toHaveBeenCalledTimes(1)
      await flush(50)
      expect(unhandled).not.toHaveBeenCalled()
      const call = rf(URL_A)
      c.pending[0]!.respond(200)
      expect((await call).status).toBe(200)
    } finally {
      process.off('unhandledRejection', unhandled)
    }
  })

  it.each([
    ['shareAcrossTabs()', async () => (await import('../src/share/tabs.js')).shareAcrossTabs().close()],
    ['durableObjectShare()', async () => void (await import('../src/worker/share.js')).durableObjectShare({ idFromName: () => ({}), get: () => ({ fetch: async () => new Response() }) })],
  ])('comes with %s: an instance on any share then shares from the start', async (_, create) => {
    await create()
    const share = ownShare()
    const { rf, c } = await instance(share)
    expect(share.connect).toHaveBeenCalledTimes(1)
    expect(rf.breaker(KEY)!.state).toBe('open')
    vi.advanceTimersByTime(1)
    const probe = rf(URL_A)
    expect(share.acquireProbe).toHaveBeenCalledTimes(1)
    await expect(probe).rejects.toMatchObject({ name: 'CircuitOpenError' })
    expect(c.mock).not.toHaveBeenCalled()
  })
})
