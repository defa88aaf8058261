import { HTTPError, type Options } from 'ky'
import { http, HttpResponse } from 'msw'
import { setupServer } from 'msw/node'
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { TimeoutError } from '../src/index.js'
import { resilientKy } from '../src/integrations/ky.js'
import { rejection } from './helpers.js'

const ORIGIN = 'https://api.ky.test'
let hits = 0
let status = 200

const server = setupServer(
  http.all(`${ORIGIN}/*`, () => {
    hits++
    return status === 200 ? HttpResponse.json({ ok: true }) : new HttpResponse('nope', { status })
  }),
)

beforeAll(() => server.listen({ onUnhandledRequest: 'error' }))
afterEach(() => {
  server.resetHandlers()
  hits = 0
  status = 200
})
afterAll(() => server.close())

describe('resilientKy', () => {
  it('serves ky calls through the resilient fetch, ky body helpers included', async () => {
    const api = resilientKy({ ky: { prefixUrl: ORIGIN } })
    expect(await api.get('users/1').json()).toEqual({ ok: true })
    expect(hits).toBe(1)
    const snap = api.resilientFetch.snapshot()
    expect(snap.totals.requests).toBe(1)
    expect(snap.totals.successes).toBe(1)
    expect(snap.breakers.map((b) => b.key)).toEqual([ORIGIN])
  })

  it('still throws ky HTTPError for a non-2xx response, with the response', async () => {
    status = 404
    const api = resilientKy({ retry: false })
    const error = await rejection(api.get(`${ORIGIN}/missing`))
    expect(error).toBeInstanceOf(HTTPError)
    expect((error as HTTPError).response.status).toBe(404)
    expect(hits).toBe(1)
  })

  it('opens the breaker after failing ky calls and then rejects without reaching upstream', async () => {
    status = 500
    const api = resilientKy({ retry: false, breaker: { window: 'consecutive', failureThreshold: 3 }, fallback: false })
    for (let i = 0; i < 3; i++) {
      const error = await rejection(api.get(`${ORIGIN}/flaky`))
      expect(error).toBeInstanceOf(HTTPError)
    }
    expect(api.resilientFetch.breaker(ORIGIN)?.state).toBe('open')
    const error = await rejection(api.get(`${ORIGIN}/flaky`))
    expect((error as Error).name).toBe('CircuitOpenError')
    expect((error as { key: string }).key).toBe(ORIGIN)
    expect(hits).toBe(3)
  })

  it('does not retry on its own: one upstream hit per call when our retry is off', async () => {
    status = 503 // ky would retry a GET on 503 twice by default
    const api = resilientKy({ retry: false })
    await rejection(api.get(`${ORIGIN}/busy`))
    expect(hits).toBe(1)
  })

  it('retries only through our retry option: limit 2 means 3 upstream hits, not 3 × 3', async () => {
    status = 503
    const api = resilientKy({ retry: { limit: 2, backoff: { base: 1, max: 1, jitter: 'none' } }, breaker: false })
    const error = await rejection(api.get(`${ORIGIN}/busy`))
    expect(error).toBeInstanceOf(HTTPError)
    expect(hits).toBe(3)
    expect(api.resilientFetch.snapshot().totals.retries).toBe(2)
  })

  it('has no ky timeout: a response slower than ky\'s default 10 s still arrives when ours is off', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] })
    try {
      let release!: () => void
      const released = new Promise<void>((resolve) => (release = resolve))
      server.use(http.get(`${ORIGIN}/slow`, async () => {
        await released
        return HttpResponse.json({ slow: true })
      }))
      const api = resilientKy({ timeout: false, retry: false })
      let settled: unknown
      const call = api.get(`${ORIGIN}/slow`).json().then((v) => (settled = v), (e) => (settled = e))
      await vi.advanceTimersByTimeAsync(60_000)
      expect(settled).toBeUndefined()
      release()
      await call
      expect(settled).toEqual({ slow: true })
    } finally {
      vi.useRealTimers()
    }
  })

  it('cuts a slow response at our attempt deadline, raising our TimeoutError', async () => {
    server.use(http.get(`${ORIGIN}/hang`, () => new Promise<never>(() => {})))
    const api = resilientKy({ timeout: { attempt: 20, total: false }, retry: false })
    const error = await rejection(api.get(`${ORIGIN}/hang`))
    expect(error).toBeInstanceOf(TimeoutError)
    expect((error as TimeoutError).scope).toBe('attempt')
  })

  it('passes per-call resilience options through ky to the resilient fetch', async () => {
    const api = resilientKy()
    await api.get(`${ORIGIN}/search`, { resilience: { key: 'search' } } as Options).text()
    expect(api.resilientFetch.snapshot().breakers.map((b) => b.key)).toEqual(['search'])
  })

  it('keeps the resilient fetch under instances made with extend', async () => {
    status = 500
    const api = resilientKy({ retry: false, breaker: { window: 'consecutive', failureThreshold: 1 } })
    const child = api.extend({ prefixUrl: ORIGIN })
    await rejection(child.get('a'))
    expect(api.resilientFetch.breaker(ORIGIN)?.state).toBe('open')
  })

  it('rejects ky options that would add a second retry, deadline or transport, naming them', () => {
    expect(() => resilientKy({ ky: { retry: 2 } })).toThrow(/ky\.retry .*2/)
    expect(() => resilientKy({ ky: { timeout: 1000 } })).toThrow(/ky\.timeout .*1000/)
    expect(() => resilientKy({ ky: { fetch: globalThis.fetch } })).toThrow(/ky\.fetch/)
    expect(() => resilientKy({ ky: 'x' as unknown as Options })).toThrow(/ky must be an object.*x/)
    expect(() => resilientKy({ ky: { retry: 0, timeout: false } })).not.toThrow()
  })

  it('refuses ky\'s own retry, timeout and fetch in a call\'s options and in extend, before any request', async () => {
    status = 503 // ky would retry a GET on 503: with ours, limit 2, that is 3 × 3 hits
    const api = resilientKy({ retry: { limit: 2, backoff: { base: 1, max: 1, jitter: 'none' } }, breaker: false, fallback: false })
    const url = `${ORIGIN}/busy`
    expect(() => api.get(url, { retry: 2 })).toThrow(/options\.retry .*resilience\.retry.*got 2/)
    expect(() => api(url, { retry: { limit: 1 } })).toThrow(/options\.retry .*\{"limit":1\}/)
    expect(() => api.post(url, { timeout: 200 })).toThrow(/options\.timeout .*resilience\.timeout.*got 200/)
    expect(() => api.head(url, { fetch: globalThis.fetch })).toThrow(/options\.fetch/)
    expect(() => api.extend({ retry: 2 })).toThrow(/extend\.retry .*got 2/)
    expect(() => api.extend({ prefixUrl: ORIGIN }).extend({ timeout: 1000 })).toThrow(/extend\.timeout .*got 1000/)
    expect(() => api.extend((parent) => ({ ...parent, retry: 3 }))).toThrow(/extend\.retry .*got 3/)
    expect(() => api.extend((parent) => ({ ...parent, prefixUrl: ORIGIN })).get('busy', { timeout: 5 })).toThrow(/options\.timeout .*got 5/)
    expect(hits).toBe(0)
    // Ours still retries once per attempt, whichever way the call is made.
    await rejection(api.extend({ prefixUrl: ORIGIN }).get('busy', { retry: 0, timeout: false }))
    expect(hits).toBe(3)
  })

  it('create (new ky defaults) stays on the same resilient fetch, its checks included', async () => {
    status = 500
    const api = resilientKy({ retry: false, breaker: { window: 'consecutive', failureThreshold: 1 }, fallback: false })
    const fresh = api.create({ prefixUrl: ORIGIN, throwHttpErrors: false })
    expect((await fresh.get('a')).status).toBe(500)
    expect(hits).toBe(1)
    expect(api.resilientFetch.breaker(ORIGIN)?.state).toBe('open')
    expect((await rejection(fresh.get('a')) as Error).name).toBe('CircuitOpenError')
    expect(() => api.create({ retry: 2 })).toThrow(/create\.retry .*got 2/)
    expect(() => fresh.extend({}).create().get(`${ORIGIN}/b`, { timeout: 5 })).toThrow(/options\.timeout/)
  })

  it('passes the resilient fetch options through to their validation', () => {
    expect(() => resilientKy({ breaker: { failureThreshold: -1 } })).toThrow(/breaker\.failureThreshold/)
  })
})
