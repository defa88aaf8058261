// A half-open origin whose one probe is out refuses every other call, as an open one does: the proxy passes it over
// (tried last, never hedged to), so it neither refuses a request it could have left to another origin nor costs one its retry.
import { describe, expect, it, vi } from 'vitest'
import { deferred, fakeUpstream, get, proxy, quietFakeTime, snapshotOf } from './worker/helpers.js'

const A = 'http://a.test'
const B = 'http://b.test'
const C = 'http://c.test'

quietFakeTime()

/**
 * Origins answering by name: `probed` (P) fails once, which opens its breaker, then holds its probe until `release`;
 * the others answer through `answers`. Each request is counted, by origin.
 */
function pool(answers: Record<string, () => Response | Promise<Response>>, probed: string) {
  const held = deferred<Response>()
  let failed = false
  const upstream = fakeUpstream((request) => {
    const origin = new URL(request.url).origin
    if (origin !== probed) return answers[origin]!()
    if (failed) return held.promise
    failed = true
    return new Response('down', { status: 500 })
  })
  const asked = () => upstream.seen.map((r) => new URL(r.url).origin)
  return { fetch: upstream.fetch, asked, release: () => held.resolve(new Response('p')) }
}

const text = async (pending: Promise<Response>) => {
  const response = await pending
  return `${response.status} ${await response.text()}`
}
const breakerOf = async (handler: ReturnType<typeof proxy>, key: string) => (await snapshotOf(handler)).breakers.find((b) => b.key === key)

describe('an origin half-open with its probe out', () => {
  it('is passed over like an open one: the request goes to the other origin, and the breaker refuses nothing', async () => {
    const { fetch, asked, release } = pool({ [B]: () => new Response('b') }, A)
    // A path per request: no last-known-good copy stands in for a failure.
    let sent = 0
    const handler = proxy({ routes: { '/api/': [A, B] }, fetch, failureThreshold: 1, openDuration: 10_000 })
    // A first (the rotation): its 500 opens it, the retry on B answers.
    expect(await text(handler(get(`/api/${++sent}`)))).toBe('200 b')
    await vi.advanceTimersByTimeAsync(10_000)
    expect(await text(handler(get(`/api/${++sent}`)))).toBe('200 b')
    // A first again: this request is its probe, which stays out.
    const probe = handler(get(`/api/${++sent}`))
    await vi.advanceTimersByTimeAsync(0)
    expect(asked()).toEqual([A, B, B, A])
    for (let i = 0; i < 2; i++) expect(await text(handler(get(`/api/${++sent}`)))).toBe('200 b')
    // Whichever the rotation put first, A was not asked to refuse: only B was.
    expect(asked()).toEqual([A, B, B, A, B, B])
    expect(await breakerOf(handler, A)).toMatchObject({ state: 'half-open', rejected: 0 })
    expect((await snapshotOf(handler)).totals).toMatchObject({ rejected: 0, retries: 1 })
    release()
    expect(await text(probe)).toBe('200 p')
    expect(await breakerOf(handler, A)).toMatchObject({ state: 'closed', rejected: 0 })
  })

  it('is no hedge target: the hedge goes to the next healthy origin, so the request is still answered', async () => {
    // Origins B, A, C in that order; the rotation starts request n at the (n mod 3)th. B answers at once until the last request.
    let bSlowFails = false
    const slowFailure = () => new Promise<Response>((resolve) => setTimeout(() => resolve(new Response('down', { status: 500 })), 50))
    const { fetch, asked } = pool({ [B]: () => (bSlowFails ? slowFailure() : new Response('b')), [C]: () => new Response('g') }, A)
    // A path per request: no last-known-good copy stands in for a failure.
    let sent = 0
    const handler = proxy({ routes: { '/api/': [B, A, C] }, fetch, failureThreshold: 1, openDuration: 10_000, hedge: 20 })
    // 0 starts at B; 1 at A: its 500 opens it, the retry on C answers.
    expect(await text(handler(get(`/api/${++sent}`)))).toBe('200 b')
    expect(await text(handler(get(`/api/${++sent}`)))).toBe('200 g')
    await vi.advanceTimersByTimeAsync(10_000)
    // 2 starts at C, 3 at B; 4 at A, half-open: its probe, which C's answer to the hedge beats, and which stays out.
    expect(await text(handler(get(`/api/${++sent}`)))).toBe('200 g')
    expect(await text(handler(get(`/api/${++sent}`)))).toBe('200 b')
    const four = handler(get(`/api/${++sent}`))
    await vi.advanceTimersByTimeAsync(20)
    expect(await text(four)).toBe('200 g')
    expect(await text(handler(get(`/api/${++sent}`)))).toBe('200 g')
    expect(asked()).toEqual([B, A, C, C, B, A, C, C])
    // 6 starts at B, which fails after 50 ms: the hedge at 20 ms goes to C, not to A (which would refuse it, and the call would have no attempt left).
    bSlowFails = true
    const six = handler(get(`/api/${++sent}`))
    await vi.advanceTimersByTimeAsync(60)
    expect(await text(six)).toBe('200 g')
    expect(asked().slice(8)).toEqual([B, C])
    expect(await breakerOf(handler, A)).toMatchObject({ state: 'half-open', rejected: 0 })
  })

  it('with every origin open or probing, the answer is as before: circuit_open naming the one that clears first', async () => {
    let bDown = false
    const { fetch, release } = pool({ [B]: () => new Response(bDown ? 'down' : 'b', { status: bDown ? 500 : 200 }) }, A)
    // A path per request: no last-known-good copy stands in for a failure.
    let sent = 0
    const handler = proxy({ routes: { '/api/': [A, B] }, fetch, failureThreshold: 1, openDuration: 10_000, timeout: 3_000 })
    expect(await text(handler(get(`/api/${++sent}`)))).toBe('200 b')
    await vi.advanceTimersByTimeAsync(10_000)
    expect(await text(handler(get(`/api/${++sent}`)))).toBe('200 b')
    const probe = handler(get(`/api/${++sent}`))
    await vi.advanceTimersByTimeAsync(0)
    // B opens on its 500; its retry is refused by A, probing.
    bDown = true
    const failed = await handler(get(`/api/${++sent}`))
    expect([failed.status, await failed.json()]).toEqual([503, { error: 'upstream_error', key: B }])
    // A's probe may take its 3 s attempt deadline, B is open 10 s: A is named, with its 3 s.
    const refused = await handler(get(`/api/${++sent}`))
    expect([refused.status, refused.headers.get('retry-after'), await refused.json()]).toEqual([503, '3', { error: 'circuit_open', key: A }])
    release()
    expect(await text(probe)).toBe('200 p')
  })
})
