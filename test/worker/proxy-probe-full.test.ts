// In workerd, against real servers on 127.0.0.1: an origin half-open with its probe still out (the slow server, which
// answers only after ?ms=) is passed over like an open one, and the request is answered by the other origin (the shared
// upstream), without the probing origin's breaker refusing anything. Fake time drives the attempt deadline and the open.
import { afterEach, describe, expect, inject, it, vi } from 'vitest'
import { get, proxy, snapshotOf } from './helpers.js'

const slow = inject('slowUpstreamUrl')
const [shared] = inject('sharedUpstreamUrls')

afterEach(() => {
  vi.useRealTimers()
})

describe('a half-open origin whose probe is out, in workerd', () => {
  it('is passed over: the other origin answers 200 and the probing breaker refuses nothing', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'], now: Date.now() })
    const run = `/${crypto.randomUUID()}`
    const handler = proxy({ routes: { '/api/': [slow, `${shared}${run}`] }, failureThreshold: 1, openDuration: 10_000, timeout: 1_000 })
    // The slow server holds each request 10 s (it lets go when the proxy aborts it); the shared upstream answers at once.
    const call = () => handler(get('/api/x?ms=10000'))
    const answer = async (pending: Promise<Response>) => {
      const response = await pending
      return [response.status, await response.json()]
    }
    const fromShared = [200, { user: null, path: `${run}/x` }]
    // The rotation starts at the slow origin: its attempt deadline opens its breaker, the retry goes to the other origin.
    const first = call()
    await vi.advanceTimersByTimeAsync(1_000)
    expect(await answer(first)).toEqual(fromShared)
    vi.advanceTimersByTime(10_000)
    expect(await answer(call())).toEqual(fromShared)
    // The slow origin first again, half-open: this request is its probe, and it stays out.
    const probe = call()
    await vi.advanceTimersByTimeAsync(0)
    const before = await snapshotOf(handler)
    expect(before.breakers.find((b) => b.key === slow)?.state).toBe('half-open')
    expect(before.bulkheads.find((b) => b.key === slow)?.active).toBe(1)
    // Whichever the rotation puts first, the other origin answers, and the slow one is not asked to refuse.
    for (let i = 0; i < 2; i++) expect(await answer(call())).toEqual(fromShared)
    const after = await snapshotOf(handler)
    expect(after.breakers.find((b) => b.key === slow)).toMatchObject({ state: 'half-open', rejected: 0 })
    expect(after.totals.rejected).toBe(0)
    // The probe's deadline: it fails, the breaker re-opens, and its request is retried on the other origin.
    await vi.advanceTimersByTimeAsync(1_000)
    expect(await answer(probe)).toEqual(fromShared)
    expect((await snapshotOf(handler)).breakers.find((b) => b.key === slow)?.state).toBe('open')
  })
})
