/**
 * A share's side of the breaker stage arriving after the instance (src/breaker/shared.ts, attach): a state a key entered by
 * itself meanwhile is published unless the share's own state replaced it. Pinned by mutation testing, with the library
 * loaded afresh per test (vi.resetModules) so the chunk is not there until the instance asks for it.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import type { BreakerShare, SharedBreakerState } from '../src/index.js'
import { controlledTransport, flush } from './helpers.js'

const URL_A = 'https://a.test/x'
const KEY = 'https://a.test'
const T0 = 1_780_000_000_000

beforeEach(() => {
  vi.useFakeTimers({ now: T0 })
  vi.resetModules()
})
afterEach(() => {
  vi.useRealTimers()
})

/** A share whose `initial` answers `known` (set once the key moved by itself). */
function ownShare() {
  return { connect: vi.fn(), initial: vi.fn((_key: string): SharedBreakerState | undefined => undefined), publish: vi.fn(), record: vi.fn() } satisfies BreakerShare
}

/** An instance on `share` whose key opened by itself (failureThreshold 1, 1 s) at T0, before the share's chunk arrived. */
async function openedBeforeTheChunk(share: BreakerShare) {
  const { createResilientFetch } = await import('../src/index.js')
  const c = controlledTransport()
  const rf = createResilientFetch({ fetch: c.fetch, retry: false, fallback: false, timeout: false, breaker: { failureThreshold: 1, openDuration: 1_000 }, share })
  const first = rf(URL_A)
  c.pending[0]!.respond(500)
  await first
  expect(rf.breaker(KEY)!.state).toBe('open')
  return rf
}

async function chunkThere() {
  await import('../src/breaker/shared.js')
  await flush(50)
}

describe("a late share's states that replace nothing: the key's own is published", () => {
  it('an open with no end, newer than the key\'s own open', async () => {
    const share = ownShare()
    const rf = await openedBeforeTheChunk(share)
    vi.advanceTimersByTime(10)
    share.initial.mockImplementation(() => ({ state: 'open', at: Date.now(), openedAt: Date.now() }))
    await chunkThere()
    expect(rf.snapshot().breakers[0]).toMatchObject({ state: 'open', nextProbeAt: T0 + 1_000 })
    expect(share.publish).toHaveBeenCalledTimes(1)
  })

  it('an open that has ended, newer than the half-open the key reached by itself', async () => {
    const share = ownShare()
    const rf = await openedBeforeTheChunk(share)
    vi.advanceTimersByTime(1_010)
    expect(rf.breaker(KEY)!.state).toBe('half-open')
    share.initial.mockImplementation(() => ({ state: 'open', at: Date.now() - 5, openedAt: Date.now() - 5, openUntil: Date.now() - 1 }))
    await chunkThere()
    expect(rf.breaker(KEY)!.state).toBe('half-open')
    expect(share.publish).toHaveBeenCalledWith(KEY, expect.objectContaining({ state: 'half-open', at: T0 }))
  })
})
