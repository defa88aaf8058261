import { describe, expect, it } from 'vitest'
import { fakeUpstream, get, proxy, snapshotOf } from './helpers.js'

const A = 'http://a.upstream.test'
const B = 'http://b.upstream.test'

function pool(answers: Record<string, (request: Request) => Response | Promise<Response>>) {
  return fakeUpstream((request) => answers[new URL(request.url).origin](request))
}

const count = (seen: Request[], origin: string) => seen.filter((r) => new URL(r.url).origin === origin).length

describe('several origins per prefix (ROUTES)', () => {
  it('spreads requests over healthy origins', async () => {
    const upstream = pool({ [A]: () => new Response('a'), [B]: () => new Response('b') })
    const handler = proxy({ routes: { '/api/': [A, B] }, fetch: upstream.fetch })
    const bodies = await Promise.all(Array.from({ length: 10 }, async () => (await handler(get('/api/x'))).text()))
    expect(bodies.filter((b) => b === 'a')).toHaveLength(5)
    expect(bodies.filter((b) => b === 'b')).toHaveLength(5)
  })

  it('retries an idempotent request once on another origin, and ejects the bad one when its breaker opens', async () => {
    const upstream = pool({ [A]: () => new Response('down', { status: 503 }), [B]: () => Response.json({ from: 'b' }) })
    const handler = proxy({ routes: { '/api/': [A, B] }, fetch: upstream.fetch, failureThreshold: 3, openDuration: 60_000 })
    for (let i = 0; i < 12; i++) {
      const response = await handler(get('/api/x'))
      expect(response.status).toBe(200)
      expect(await response.json()).toEqual({ from: 'b' })
    }
    // A was tried until its breaker opened, then skipped; every request still reached B.
    expect(count(upstream.seen, A)).toBe(3)
    expect(count(upstream.seen, B)).toBe(12)
    const snapshot = await snapshotOf(handler)
    expect(Object.fromEntries(snapshot.breakers.map((b) => [b.key, b.state]))).toEqual({ [A]: 'open', [B]: 'closed' })
    // Skipped, not asked: the open breaker never had to refuse a call.
    expect(snapshot.breakers.find((b) => b.key === A)?.rejected).toBe(0)
    expect(snapshot.totals.retries).toBe(3)
  })

  it('retries on another origin after a network error and after a timeout', async () => {
    const upstream = pool({
      [A]: (request) => new Promise((_, reject) => request.signal.addEventListener('abort', () => reject(request.signal.reason))),
      [B]: () => {
        throw new TypeError('network down')
      },
    })
    const handler = proxy({ routes: { '/api/': [A, B] }, fetch: upstream.fetch, timeout: 20 })
    const response = await handler(get('/api/x'))
    expect(response.status).toBe(503)
    expect(['timeout', 'upstream_error']).toContain(((await response.json()) as { error: string }).error)
    expect(count(upstream.seen, A)).toBe(1)
    expect(count(upstream.seen, B)).toBe(1)
  })

  it('does not retry a non-idempotent method', async () => {
    const upstream = pool({ [A]: () => new Response('down', { status: 503 }), [B]: () => new Response('down', { status: 503 }) })
    const handler = proxy({ routes: { '/api/': [A, B] }, fetch: upstream.fetch, methods: 'GET,POST' })
    const response = await handler(get('/api/x', { method: 'POST', body: 'once' }))
    expect(response.status).toBe(503)
    expect(upstream.seen).toHaveLength(1)
  })

  it('retries PUT with the same body on the other origin', async () => {
    const bodies: string[] = []
    const upstream = pool({
      [A]: async (request) => (bodies.push(await request.text()), new Response('down', { status: 502 })),
      [B]: async (request) => (bodies.push(await request.text()), new Response('ok')),
    })
    const handler = proxy({ routes: { '/api/': [A, B] }, fetch: upstream.fetch, methods: 'PUT' })
    for (let i = 0; i < 2; i++) expect((await handler(get('/api/x', { method: 'PUT', body: 'same' }))).status).toBe(200)
    expect(bodies).toEqual(['same', 'same', 'same'])
  })

  it('skips an origin whose bulkhead is full and uses the other', async () => {
    let release!: () => void
    const held = new Promise<void>((r) => (release = r))
    const upstream = pool({ [A]: async () => (await held, new Response('a')), [B]: () => new Response('b') })
    const handler = proxy({ routes: { '/api/': [A, B] }, fetch: upstream.fetch, maxConcurrent: 1 })
    const first = handler(get('/api/x')) // goes to A and waits there
    // One at a time, since B has a single slot too.
    for (let i = 0; i < 3; i++) expect(await (await handler(get('/api/x'))).text()).toBe('b')
    release()
    expect(await (await first).text()).toBe('a')
  })

  it('picks the longest matching prefix and strips it', async () => {
    const upstream = pool({ [A]: () => new Response('a'), [B]: () => new Response('b') })
    const handler = proxy({ routes: { '/api/': [A], '/api/users': [`${B}/v2`] }, fetch: upstream.fetch })
    expect(await (await handler(get('/api/users/7'))).text()).toBe('b')
    expect(await (await handler(get('/api/orders/1'))).text()).toBe('a')
    expect(upstream.seen.map((r) => r.url)).toEqual([`${B}/v2/7`, `${A}/orders/1`])
  })

  it('answers circuit_open with the earliest probe when every origin is open', async () => {
    const upstream = pool({ [A]: () => new Response('down', { status: 500 }), [B]: () => new Response('down', { status: 500 }) })
    const handler = proxy({ routes: { '/api/': [A, B] }, fetch: upstream.fetch, failureThreshold: 1, openDuration: 10_000 })
    expect((await handler(get('/api/x'))).status).toBe(503)
    const response = await handler(get('/api/x'))
    expect(response.status).toBe(503)
    expect(((await response.json()) as { error: string }).error).toBe('circuit_open')
    expect(Number(response.headers.get('retry-after'))).toBeGreaterThan(1)
    expect(upstream.seen).toHaveLength(2)
  })

  it('probes an ejected origin again after OPEN_DURATION_MS and puts it back in the pool', async () => {
    let aDown = true
    const upstream = pool({ [A]: () => (aDown ? new Response('down', { status: 503 }) : new Response('a')), [B]: () => new Response('b') })
    const handler = proxy({ routes: { '/api/': [A, B] }, fetch: upstream.fetch, failureThreshold: 1, openDuration: 50 })
    for (let i = 0; i < 4; i++) expect((await handler(get('/api/x'))).status).toBe(200)
    expect(count(upstream.seen, A)).toBe(1)
    aDown = false
    await new Promise((r) => setTimeout(r, 80))
    const bodies: string[] = []
    for (let i = 0; i < 4; i++) bodies.push(await (await handler(get('/api/x'))).text())
    expect(bodies).toContain('a')
    const snapshot = await snapshotOf(handler)
    expect(snapshot.breakers.find((b) => b.key === A)?.state).toBe('closed')
  })
})

describe('when an open origin probes again', () => {
  it('Retry-After says when the breaker really probes: a Retry-After open, not OPEN_DURATION_MS', async () => {
    const upstream = fakeUpstream(() => new Response('busy', { status: 503, headers: { 'retry-after': '120' } }))
    const handler = proxy({ upstream: A, fetch: upstream.fetch, openDuration: 5_000 })
    const first = await handler(get('/api/x'))
    expect(await first.json()).toEqual({ error: 'upstream_error', key: A })
    // The upstream asked for 120 s of quiet: the breaker is open that long, and the client is told so.
    const retryAfter = Number(first.headers.get('retry-after'))
    expect(retryAfter).toBeGreaterThanOrEqual(119)
    expect(retryAfter).toBeLessThanOrEqual(120)
    const refused = await handler(get('/api/x'))
    expect(await refused.json()).toEqual({ error: 'circuit_open', key: A })
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(119)
    expect(upstream.seen).toHaveLength(1)
  })
})

describe('the retry budget', () => {
  it('retries on another origin only within the library’s budget (10 + 20% of calls over 10 s)', async () => {
    const upstream = pool({ [A]: () => new Response('down', { status: 503 }), [B]: () => Response.json({ from: 'b' }) })
    // A high threshold keeps A's breaker closed, so every request that starts at A needs the retry.
    const handler = proxy({ routes: { '/api/': [A, B] }, fetch: upstream.fetch, failureThreshold: 1_000 })
    const statuses: number[] = []
    for (let i = 0; i < 60; i++) statuses.push((await handler(get(`/api/x${i}`))).status)
    const { retries } = (await snapshotOf(handler)).totals
    // 30 requests started at A; the budget allowed min + ratio × calls of them to retry on B.
    expect(retries).toBeGreaterThanOrEqual(10)
    expect(retries).toBeLessThanOrEqual(10 + 0.2 * 60)
    expect(statuses.filter((s) => s === 503)).toHaveLength(30 - retries)
    expect(count(upstream.seen, B)).toBe(30 + retries)
  })
})
