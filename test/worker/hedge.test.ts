// HEDGE_MS: with several origins, a GET with no headers after that many ms also goes to the next
// healthy origin; the first good answer wins and the other attempt is aborted.
import { afterEach, describe, expect, it, vi } from 'vitest'
import { configFromEnv } from '../../src/worker/index.js'
import { deferred, fakeUpstream, get, proxy, snapshotOf } from './helpers.js'

const A = 'http://a.hedge.test'
const B = 'http://b.hedge.test'

/** An origin that answers only when the test says, or rejects when the proxy aborts it. */
function held() {
  const gate = deferred<Response>()
  let aborted = false
  const answer = (request: Request) =>
    new Promise<Response>((resolve, reject) => {
      request.signal.addEventListener('abort', () => {
        aborted = true
        reject(request.signal.reason)
      })
      void gate.promise.then(resolve)
    })
  return { answer, release: (response: Response) => gate.resolve(response), aborted: () => aborted }
}

function pool(answers: Record<string, (request: Request) => Response | Promise<Response>>) {
  return fakeUpstream((request) => answers[new URL(request.url).origin](request))
}

const origins = (seen: Request[]) => seen.map((r) => new URL(r.url).origin)

afterEach(() => {
  vi.useRealTimers()
})

describe('HEDGE_MS', () => {
  it('a slow first origin: the next one is asked after HEDGE_MS, answers, and the slow attempt is aborted', async () => {
    const slow = held()
    const upstream = pool({ [A]: slow.answer, [B]: () => Response.json({ from: 'b' }) })
    const handler = proxy({ routes: { '/api/': [A, B] }, fetch: upstream.fetch, hedge: 20 })
    const response = await handler(get('/api/x'))
    expect(await response.json()).toEqual({ from: 'b' })
    expect(origins(upstream.seen)).toEqual([A, B])
    expect(slow.aborted()).toBe(true)
    const snapshot = await snapshotOf(handler)
    expect(snapshot.totals).toMatchObject({ hedges: 1, retries: 0 })
    // The aborted loser counts against no breaker.
    expect(snapshot.breakers.find((b) => b.key === A)).toMatchObject({ state: 'closed', failures: 0 })
  })

  it('the first origin answering in time: nothing else is asked', async () => {
    const upstream = pool({ [A]: () => Response.json({ from: 'a' }), [B]: () => Response.json({ from: 'b' }) })
    const handler = proxy({ routes: { '/api/': [A, B] }, fetch: upstream.fetch, hedge: 1_000 })
    expect(await (await handler(get('/api/x'))).json()).toEqual({ from: 'a' })
    expect(origins(upstream.seen)).toEqual([A])
    expect((await snapshotOf(handler)).totals.hedges).toBe(0)
  })

  it('the slow origin wins if it answers first; a failing hedge does not end the call', async () => {
    const slow = held()
    const hedgeAsked = deferred<void>()
    const upstream = pool({
      [A]: slow.answer,
      [B]: () => {
        hedgeAsked.resolve()
        return new Response('down', { status: 503 })
      },
    })
    const handler = proxy({ routes: { '/api/': [A, B] }, fetch: upstream.fetch, hedge: 20 })
    const pending = handler(get('/api/x'))
    await hedgeAsked.promise
    slow.release(Response.json({ from: 'a' }))
    expect(await (await pending).json()).toEqual({ from: 'a' })
    expect(slow.aborted()).toBe(false)
  })

  it('both failing: 503 upstream_error, two upstream requests and no third', async () => {
    const slow = held()
    const upstream = pool({ [A]: slow.answer, [B]: () => new Response('down', { status: 500 }) })
    const handler = proxy({ routes: { '/api/': [A, B] }, fetch: upstream.fetch, hedge: 20, timeout: 200 })
    const response = await handler(get('/api/x'))
    expect(response.status).toBe(503)
    expect(((await response.json()) as { error: string }).error).toMatch(/^(timeout|upstream_error)$/)
    expect(origins(upstream.seen)).toEqual([A, B])
  })

  it('only GETs are hedged, and only with several origins', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] })
    const slowA = held()
    const upstream = pool({ [A]: slowA.answer, [B]: () => Response.json({ from: 'b' }) })
    const handler = proxy({ routes: { '/api/': [A, B] }, fetch: upstream.fetch, hedge: 20 })
    const head = handler(get('/api/x', { method: 'HEAD' }))
    await vi.advanceTimersByTimeAsync(60)
    expect(origins(upstream.seen)).toEqual([A])
    slowA.release(new Response(null))
    expect((await head).status).toBe(200)

    const single = held()
    const one = fakeUpstream(single.answer)
    const alone = proxy({ upstream: A, fetch: one.fetch, hedge: 20 })
    const call = alone(get('/api/x'))
    await vi.advanceTimersByTimeAsync(60)
    expect(one.seen).toHaveLength(1)
    single.release(Response.json({ ok: true }))
    expect((await call).status).toBe(200)
  })

  it('HEDGE_MS is read from [vars] and checked', () => {
    expect(configFromEnv({ UPSTREAM_URL: A, HEDGE_MS: '150' }).hedge).toBe(150)
    expect(configFromEnv({ UPSTREAM_URL: A }).hedge).toBeUndefined()
    expect(() => configFromEnv({ UPSTREAM_URL: A, HEDGE_MS: 'soon' })).toThrow('HEDGE_MS must be a number, got "soon"')
    expect(() => configFromEnv({ UPSTREAM_URL: A, HEDGE_MS: '4294967296' })).toThrow('HEDGE_MS must be at most 2147483647 ms')
  })
})
