// The one retry on another origin is spent from the route's retry budget once per request, however many origins of the
// pool are passed over at their gates (a full bulkhead) before one takes it: each of those was charged as a retry.
import { describe, expect, it } from 'vitest'
import { deferred, fakeUpstream, get, proxy, snapshotOf, until } from './helpers.js'

const A = 'http://a.upstream.test'
const B = 'http://b.upstream.test'
const C = 'http://c.upstream.test'

describe('a pool of three: A failing, B at its bulkhead limit, C good', () => {
  it('every request that fails on A is retried on C, within the budget: passing B over spends nothing more', async () => {
    const held = deferred<Response>()
    const upstream = fakeUpstream((request) => {
      const origin = new URL(request.url).origin
      if (origin === A) return new Response('down', { status: 502 })
      if (origin === B) return held.promise
      return Response.json({ from: 'c' })
    })
    // One permit per origin; a high threshold keeps A's breaker closed, so each request that starts there needs the retry.
    const handler = proxy({ routes: { '/api/': [A, B, C] }, fetch: upstream.fetch, maxConcurrent: 1, failureThreshold: 1_000 })
    // The first request starts at A, fails there and is retried on B, which holds it: B's one permit is taken.
    const holding = handler(get('/api/hold'))
    await until(() => upstream.active === 1 && upstream.seen.length === 2)
    const statuses: number[] = []
    // 30 requests, each starting one origin further: 10 start at A, fail there, pass B over (full) and need the retry
    // on C. With the first one's, 11 retries: the budget allows 10 + 20% of the calls, so every one of them gets it.
    for (let i = 0; i < 30; i++) statuses.push((await handler(get(`/api/x${i}`))).status)
    expect(statuses.filter((status) => status !== 200)).toEqual([])
    // B was passed over at its gate by the 20 requests that reached it.
    expect((await snapshotOf(handler)).totals.rejected).toBe(20)
    held.resolve(new Response('b'))
    expect((await holding).status).toBe(200)
    // Counted as each retry's answer comes: the first request's last.
    expect((await snapshotOf(handler)).totals.retries).toBe(11)
  })
})
