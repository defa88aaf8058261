/**
 * Hedging on a call with no deadline (`timeout: false`, API.md: hedging): every attempt goes with the caller's init,
 * and the attempt that loses is still aborted at once, though no deadline of ours armed a signal for it.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { createResilientFetch } from '../src/index.js'
import { controlledTransport, flush } from './helpers.js'

beforeEach(() => void vi.useFakeTimers({ now: 1_000_000 }))
afterEach(() => void vi.useRealTimers())

describe('a hedged call with timeout: false', () => {
  it("sends each attempt with the caller's init and its own signal; the loser's is aborted when the other wins", async () => {
    const c = controlledTransport()
    const rf = createResilientFetch({ fetch: c.fetch, fallback: false, retry: false, timeout: false, hedge: { delay: 100, budget: false } })
    const call = rf('https://a.test/x', { headers: { 'x-a': '1' } })
    await flush()
    await vi.advanceTimersByTimeAsync(100)
    expect(c.calls).toHaveLength(2)
    for (const sent of c.calls) expect(sent.init).toMatchObject({ headers: { 'x-a': '1' }, signal: expect.any(AbortSignal) })
    const [first, hedge] = c.calls as [(typeof c.calls)[0], (typeof c.calls)[0]]
    hedge.respond(200)
    expect((await call).status).toBe(200)
    expect(first.signal!.aborted).toBe(true)
  })
})
