import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import type { BreakerShare, SharedBreakerState } from '../src/index.js'
import { controlledTransport, flush } from './helpers.js'

const URL_A = 'https://a.test/x'
const KEY = 'https://a.test'
const T0 = 1_780_000_000_000

// Each test loads the library afresh (vi.resetModules), so the share's side of the breaker stage is not there until the
// instance on a share of its own loads it: its keys' own changes meanwhile are news for the share when it arrives.
beforeEach(() => {
  vi.useFakeTimers({ now: T0 })
  vi.resetModules()
})
afterEach(() => {
  vi.useRealTimers()
})

/** A share of the user's own: what `initial` answers is set by each test once the key opened by itself. */
function ownShare() {
  return {
    connect: vi.fn(),
    initial: vi.fn((_key: string): SharedBreakerState | undefined => undefined),
    publish: vi.fn(),
    record: vi.fn(),
  } satisfies BreakerShare
}

/** Lets the share's chunk, which the instance asked for, arrive and be installed. */
async function chunkThere() {
  await import('../src/breaker/shared.js')
  await flush(50)
}

/** An instance on `share` whose key's breaker opened by itself (failureThreshold 1) before the chunk arrived, 10 ms ago. */
async function openedBeforeTheChunk(share: BreakerShare) {
  const { createResilientFetch } = await import('../src/index.js')
  const c = controlledTransport()
  const rf = createResilientFetch({ fetch: c.fetch, retry: false, fallback: false, timeout: false, breaker: { failureThreshold: 1, openDuration: 1000 }, share })
  const first = rf(URL_A)
  c.pending[0]!.respond(500)
  await first
  expect(rf.breaker(KEY)!.state).toBe('open')
  vi.advanceTimersByTime(10)
  return rf
}

describe("a share's late start: a state a key entered by itself while the chunk loaded is published, unless the share's own state replaced it", () => {
  it.each<[string, (now: number) => SharedBreakerState | undefined]>([
    // Dated before the key's own open: not newer than what the key knows, so the key keeps its open, and the share hears of it.
    ['the share knows an older state of the key (closed before it opened)', (now) => ({ state: 'closed', at: now - 5_000 })],
    // Half-open is never adopted (each participant reaches it by itself): the key stays open, and the share hears of it.
    ['the share knows the key half-open, dated after its open', (now) => ({ state: 'half-open', at: now, openedAt: now - 2_000, openUntil: now - 1_000 })],
    // An open that has ended by now, decided before the key's own, is not adopted (a later one would end the key's open too).
    ['the share knows an open of the key that has ended', (now) => ({ state: 'open', at: now - 2_000, openedAt: now - 2_000, openUntil: now - 1 })],
    // A share is advisory: one whose initial throws replaced nothing.
    ["the share's initial throws", () => { throw new Error('initial broke') }],
  ])('%s: the key keeps its own open, and it is published once the chunk is there', async (_, known) => {
    const share = ownShare()
    const rf = await openedBeforeTheChunk(share)
    share.initial.mockImplementation(() => known(Date.now()))
    expect(share.publish).not.toHaveBeenCalled()
    await chunkThere()
    expect(share.connect).toHaveBeenCalledTimes(1)
    expect(share.initial).toHaveBeenCalledWith(KEY)
    expect(rf.breaker(KEY)!.state).toBe('open')
    expect(share.publish).toHaveBeenCalledTimes(1)
    expect(share.publish).toHaveBeenCalledWith(KEY, expect.objectContaining({ state: 'open', at: T0, openUntil: T0 + 1000 }))
  })

  it("a key the share's newer open replaced is not published: the share's state is already the news", async () => {
    const share = ownShare()
    const rf = await openedBeforeTheChunk(share)
    const now = Date.now()
    share.initial.mockImplementation(() => ({ state: 'open', at: now, openedAt: now, openUntil: now + 5_000 }))
    await chunkThere()
    expect(rf.snapshot().breakers[0]).toMatchObject({ state: 'open', nextProbeAt: now + 5_000 })
    expect(share.publish).not.toHaveBeenCalled()
  })
})

describe("a late share's states that replace nothing: the key's own is published", () => {
  it('an open with no end, newer than the key\'s own open', async () => {
    const share = ownShare()
    const rf = await openedBeforeTheChunk(share)
    share.initial.mockImplementation(() => ({ state: 'open', at: Date.now(), openedAt: Date.now() }))
    await chunkThere()
    expect(rf.snapshot().breakers[0]).toMatchObject({ state: 'open', nextProbeAt: T0 + 1_000 })
    expect(share.publish).toHaveBeenCalledTimes(1)
  })

  it('an open that has ended, newer than the half-open the key reached by itself', async () => {
    const share = ownShare()
    const rf = await openedBeforeTheChunk(share)
    vi.advanceTimersByTime(1_000)
    expect(rf.breaker(KEY)!.state).toBe('half-open')
    share.initial.mockImplementation(() => ({ state: 'open', at: Date.now() - 5, openedAt: Date.now() - 5, openUntil: Date.now() - 1 }))
    await chunkThere()
    expect(rf.breaker(KEY)!.state).toBe('half-open')
    expect(share.publish).toHaveBeenCalledWith(KEY, expect.objectContaining({ state: 'half-open', at: T0 }))
  })
})
