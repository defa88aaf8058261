// Node, not happy-dom: Set-Cookie is visible here as in servers and Workers, so its rules can be seen.
import { http, HttpResponse } from 'msw'
import { setupServer } from 'msw/node'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest'
import type { FallbackRequest, NormalizedFallbackOptions } from '../src/fallback.js'
import { createFallback, slowResponse } from './fallback-helper.js'
import { memoryStore } from '../src/store/memory.js'
import type { FallbackStore, StoredResponse } from '../src/types.js'
import { evictable, quotaError } from './store/helpers.js'

const URL_A = 'https://api.example.com/items?page=1'

function request(url = URL_A, headers: HeadersInit = {}): FallbackRequest {
  return { url, headers: new Headers(headers) }
}

function json(body: unknown, init: ResponseInit = {}): Response {
  return new Response(JSON.stringify(body), { status: 200, statusText: 'OK', ...init, headers: { 'content-type': 'application/json', ...(init.headers as object) } })
}

/** A fallback over a spied memory store, a controllable clock and a list of storeerror events. */
function setup(options: Partial<NormalizedFallbackOptions> = {}, store: FallbackStore = memoryStore()) {
  let time = 1_700_000_000_000
  const errors: { key: string; error: unknown }[] = []
  const put = vi.spyOn(store, 'put')
  const fallback = createFallback(
    { store, maxAge: 86_400_000, maxBodyBytes: 5 * 1024 * 1024, private: false, ...options },
    (_type, detail) => errors.push(detail),
    () => time,
  )
  const background: Promise<unknown>[] = []
  return {
    fallback,
    store,
    put,
    errors,
    advance(ms: number) {
      time += ms
    },
    now: () => time,
    /** remember() with a waitUntil that collects the background work, then waits for it. */
    async remember(req: FallbackRequest, response: Response) {
      fallback.remember(req, response, (p) => background.push(p))
      await Promise.all(background)
    },
  }
}

describe('what is stored', () => {
  it('a 200 GET is stored and served back with its status, headers and body, marked as a fallback with its Age', async () => {
    const t = setup()
    const storedAt = t.now()
    await t.remember(request(), json({ items: [1, 2] }, { statusText: 'Fine', headers: { etag: '"v1"' } }))
    t.advance(2_500)
    const found = await t.fallback.recall(request())
    expect(found!.storedAt).toBe(storedAt)
    const { response } = found!
    expect(response.status).toBe(200)
    expect(response.statusText).toBe('Fine')
    expect(response.headers.get('etag')).toBe('"v1"')
    expect(response.headers.get('content-type')).toBe('application/json')
    expect(response.headers.get('x-resilient-source')).toBe('fallback')
    expect(response.headers.get('age')).toBe('2')
    expect(await response.json()).toEqual({ items: [1, 2] })
  })

  it.each(['no-store', 'max-age=0, No-Store', 'private, no-store'])('Cache-Control: %s is never stored, even with private: true', async (cacheControl) => {
    const t = setup({ private: true })
    await t.remember(request(), json({}, { headers: { 'cache-control': cacheControl } }))
    expect(t.put).not.toHaveBeenCalled()
  })

  it('an event stream is never stored', async () => {
    const t = setup()
    await t.remember(request(), new Response('data: 1\n\n', { headers: { 'content-type': 'text/event-stream; charset=utf-8' } }))
    expect(t.put).not.toHaveBeenCalled()
  })

  it('a stream by nature (NDJSON, JSON Lines, JSON text sequences, multipart/x-mixed-replace) is never stored', async () => {
    const t = setup()
    const types = ['application/x-ndjson', 'application/ndjson; charset=utf-8', 'application/jsonl', 'application/x-jsonlines', 'application/json-seq', 'APPLICATION/STREAM+JSON', 'multipart/x-mixed-replace; boundary=frame']
    for (const type of types) await t.remember(request(`${URL_A}?${encodeURIComponent(type)}`), new Response('{}\n', { headers: { 'content-type': type } }))
    expect(t.put).not.toHaveBeenCalled()
    await t.remember(request(), new Response('{}', { headers: { 'content-type': 'application/json-seqs' } }))
    expect(t.put).toHaveBeenCalledTimes(1)
  })

  it('a media type that names a stream type only in its parameters is stored: the type itself is what makes a stream', async () => {
    const t = setup()
    await t.remember(request(), json({}, { headers: { 'content-type': 'application/json; profile="text/event-stream"' } }))
    expect(t.put).toHaveBeenCalledOnce()
  })

  it('a request sent with Cache-Control: no-store is never stored', async () => {
    const t = setup({ private: true })
    await t.remember(request(URL_A, { 'cache-control': 'no-store' }), json({}))
    expect(t.put).not.toHaveBeenCalled()
  })

  it("a request made with fetch's cache: 'no-store' is never stored, like Cache-Control: no-store", async () => {
    const t = setup({ private: true })
    await t.remember({ ...request(), cache: 'no-store' }, json({}))
    expect(t.put).not.toHaveBeenCalled()
    await t.remember({ ...request(), cache: 'no-cache' }, json({}))
    expect(t.put).toHaveBeenCalledOnce()
  })

  it.each(['*', 'Accept, *'])('Vary: %s is never stored, even with private: true', async (vary) => {
    const t = setup({ private: true })
    await t.remember(request(), json({}, { headers: { vary } }))
    expect(t.put).not.toHaveBeenCalled()
  })

  it.each(['*,Accept', ' Accept ,\t* ', 'Accept, *, Origin'])('Vary: %s (a star among the names, however spaced) is never stored either', async (vary) => {
    const t = setup({ private: true })
    await t.remember(request(), json({}, { headers: { vary } }))
    expect(t.put).not.toHaveBeenCalled()
  })

  it.each(['X-Star*', '**', 'Accept, *x'])('Vary: %s names no star of its own: the copy is stored', async (vary) => {
    const t = setup()
    await t.remember(request(), json({}, { headers: { vary } }))
    expect(t.put).toHaveBeenCalledOnce()
  })

  it('a response that followed a redirect is never stored: another resource answered (an expired session sent to /login)', async () => {
    const t = setup()
    await t.remember(request(), json({ items: [1, 2, 3] }))
    t.advance(1_000)
    const login = new Response('<html>login</html>', { headers: { 'content-type': 'text/html' } })
    Object.defineProperty(login, 'redirected', { value: true })
    await t.remember(request(), login)
    expect(t.put).toHaveBeenCalledOnce()
    expect(await (await t.fallback.recall(request()))!.response.json()).toEqual({ items: [1, 2, 3] })
  })

})

describe('private responses and credentialed requests', () => {
  const cases: [string, FallbackRequest, ResponseInit][] = [
    ['Cache-Control: private', request(), { headers: { 'cache-control': 'private, max-age=60' } }],
    ['a Set-Cookie response', request(), { headers: { 'set-cookie': 'sid=abc; HttpOnly' } }],
    ['a request with Authorization', request(URL_A, { authorization: 'Bearer t0k3n' }), {}],
    ['a request with Cookie', request(URL_A, { cookie: 'sid=abc' }), {}],
    ['a Set-Cookie2 response', request(), { headers: { 'set-cookie2': 'sid=abc; Version=1' } }],
    ...['Proxy-Authorization', 'X-Api-Key', 'api-key', 'apikey', 'X-Auth-Token', 'X-Access-Token', 'X-Amz-Security-Token', 'X-CSRF-Token', 'X-Session-Id'].map(
      (name): [string, FallbackRequest, ResponseInit] => [`a request with ${name}`, request(URL_A, { [name]: 'alice-secret' }), {}],
    ),
  ]

  it.each(cases)('%s is not stored by default', async (_name, req, init) => {
    const t = setup()
    await t.remember(req, json({ me: 'alice' }, init))
    expect(t.put).not.toHaveBeenCalled()
  })

  it.each(cases)('%s is stored with private: true', async (_name, req, init) => {
    const t = setup({ private: true })
    await t.remember(req, json({ me: 'alice' }, init))
    expect(t.put).toHaveBeenCalledOnce()
    expect(await (await t.fallback.recall(req))!.response.json()).toEqual({ me: 'alice' })
  })

  it('a stored copy never keeps Set-Cookie', async () => {
    const t = setup({ private: true })
    await t.remember(request(), json({}, { headers: { 'set-cookie': 'sid=abc' } }))
    const stored = t.put.mock.calls[0][1]
    expect(stored.headers.map(([name]) => name)).not.toContain('set-cookie')
    const { response } = (await t.fallback.recall(request()))!
    expect(response.headers.has('set-cookie')).toBe(false)
    expect(response.headers.getSetCookie()).toEqual([])
  })
})

describe('a private copy of a credentialed request belongs to those credentials', () => {
  it.each([
    ['authorization', 'Bearer alice-token', 'Bearer bob-token'],
    ['cookie', 'sid=alice', 'sid=bob'],
    ['x-api-key', 'KEY-alice', 'KEY-bob'],
    ['proxy-authorization', 'Basic YWxpY2U6cHc=', 'Basic Ym9iOnB3'],
  ])('stored for one %s, served only to the same one', async (header, alice, bob) => {
    const t = setup({ private: true })
    await t.remember(request(URL_A, { [header]: alice }), json({ me: 'alice' }))
    expect(await t.fallback.recall(request(URL_A, { [header]: alice }))).toBeDefined()
    expect(await t.fallback.recall(request(URL_A, { [header]: bob }))).toBeUndefined()
    expect(await t.fallback.recall(request(URL_A))).toBeUndefined()
  })

  it('keeps a digest, never the secret itself, and never serves the digest', async () => {
    const t = setup({ private: true })
    await t.remember(request(URL_A, { authorization: 'Bearer s3cr3t' }), json({}))
    const stored = t.put.mock.calls[0][1]
    expect(JSON.stringify(stored.headers)).not.toContain('s3cr3t')
    expect(stored.headers.find(([name]) => name === 'x-resilient-credential')?.[1]).toMatch(/^[0-9a-f]{64}$/)
    const { response } = (await t.fallback.recall(request(URL_A, { authorization: 'Bearer s3cr3t' })))!
    expect(response.headers.has('x-resilient-credential')).toBe(false)
  })

  it('a copy stored with several credentials is served only when every one of them matches', async () => {
    const t = setup({ private: true })
    const alice = { authorization: 'Bearer alice', 'x-api-key': 'KEY-alice' }
    await t.remember(request(URL_A, alice), json({ me: 'alice' }))
    expect(await t.fallback.recall(request(URL_A, { 'x-api-key': 'KEY-alice', authorization: 'Bearer alice', accept: 'text/csv' }))).toBeDefined()
    expect(await t.fallback.recall(request(URL_A, { authorization: 'Bearer alice' }))).toBeUndefined()
    expect(await t.fallback.recall(request(URL_A, { authorization: 'Bearer alice', 'x-api-key': 'KEY-bob' }))).toBeUndefined()
    expect(JSON.stringify(t.put.mock.calls[0][1].headers)).not.toContain('alice')
  })

  it('where there is no crypto.subtle, a credentialed 200 with no body is skipped quietly, without a storeerror', async () => {
    vi.stubGlobal('crypto', undefined)
    try {
      const t = setup({ private: true })
      await t.remember(request(URL_A, { authorization: 'Bearer x' }), new Response(null))
      expect(t.put).not.toHaveBeenCalled()
      expect(t.errors).toEqual([])
    } finally {
      vi.unstubAllGlobals()
    }
  })

  it('a copy stored without credentials is served to any request', async () => {
    const t = setup({ private: true })
    await t.remember(request(), json({ public: true }))
    expect(await t.fallback.recall(request(URL_A, { authorization: 'Bearer anyone' }))).toBeDefined()
  })

  it('where there is no crypto.subtle to bind it, a credentialed copy is not kept at all', async () => {
    vi.stubGlobal('crypto', undefined)
    try {
      const t = setup({ private: true })
      await t.remember(request(URL_A, { authorization: 'Bearer x' }), json({}))
      expect(t.put).not.toHaveBeenCalled()
      await t.remember(request(), json({}))
      expect(t.put).toHaveBeenCalledOnce()
    } finally {
      vi.unstubAllGlobals()
    }
  })
})

describe('body size', () => {
  it('a Content-Length over maxBodyBytes is not stored, and the response is not even cloned', async () => {
    const t = setup({ maxBodyBytes: 100 })
    const response = new Response('x'.repeat(101), { headers: { 'content-length': '101' } })
    const clone = vi.spyOn(response, 'clone')
    await t.remember(request(), response)
    expect(clone).not.toHaveBeenCalled()
    expect(t.put).not.toHaveBeenCalled()
    expect(await response.text()).toHaveLength(101)
  })

  it('a streamed body is read only until it passes maxBodyBytes; the caller still gets all of it', async () => {
    const t = setup({ maxBodyBytes: 100 })
    let pulls = 0
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (++pulls > 10) return controller.close()
        controller.enqueue(new Uint8Array(40).fill(120))
      },
    })
    const response = new Response(body, { headers: { 'content-type': 'text/plain' } })
    await t.remember(request(), response)
    expect(t.put).not.toHaveBeenCalled()
    expect(pulls).toBeLessThan(10)
    expect(await response.text()).toBe('x'.repeat(400))
  })

  it('a body of exactly maxBodyBytes is stored', async () => {
    const t = setup({ maxBodyBytes: 100 })
    await t.remember(request(), new Response('x'.repeat(100)))
    expect(t.put).toHaveBeenCalledOnce()
  })

  it('a Content-Length of exactly maxBodyBytes is stored', async () => {
    const t = setup({ maxBodyBytes: 100 })
    await t.remember(request(), new Response('x'.repeat(100), { headers: { 'content-length': '100' } }))
    expect(t.put).toHaveBeenCalledOnce()
  })
})

describe('age', () => {
  it('a copy is served up to maxAge, and not a millisecond later', async () => {
    const t = setup({ maxAge: 60_000 })
    await t.remember(request(), json({}))
    t.advance(60_000)
    expect((await t.fallback.recall(request()))!.response.headers.get('age')).toBe('60')
    t.advance(1)
    expect(await t.fallback.recall(request())).toBeUndefined()
  })

  it("the response's stale-if-error narrows maxAge", async () => {
    const t = setup({ maxAge: 60_000 })
    await t.remember(request(), json({}, { headers: { 'cache-control': 'max-age=5, stale-if-error=10' } }))
    t.advance(10_000)
    expect(await t.fallback.recall(request())).toBeDefined()
    t.advance(1)
    expect(await t.fallback.recall(request())).toBeUndefined()
  })

  it('a copy dated in the future (stored while the clock was ahead) is expired and deleted, never served as new', async () => {
    const t = setup({ maxAge: 60_000 })
    t.advance(3_600_000)
    await t.remember(request(), json({ ahead: true }))
    const remove = vi.spyOn(t.store, 'delete')
    t.advance(-3_600_000)
    expect(await t.fallback.recall(request())).toBeUndefined()
    expect(remove).toHaveBeenCalledWith(`GET ${URL_A}`)
    // Once the clock has caught up, the copy is not served as if it were new.
    t.advance(3_600_000)
    expect(await t.fallback.recall(request())).toBeUndefined()
    expect(t.errors).toEqual([])
  })

  it('a copy dated less than a second ahead (clocks of isolates differ) is served with Age 0', async () => {
    const t = setup()
    t.advance(900)
    await t.remember(request(), json({}))
    t.advance(-900)
    expect((await t.fallback.recall(request()))!.response.headers.get('age')).toBe('0')
  })

  it('a copy dated exactly a second ahead is still served with Age 0; a millisecond more and it is deleted', async () => {
    const t = setup()
    t.advance(1_000)
    await t.remember(request(), json({ n: 1 }))
    t.advance(-1_000)
    expect((await t.fallback.recall(request()))!.response.headers.get('age')).toBe('0')
    t.advance(2_000)
    await t.remember(request(), json({ n: 2 }))
    t.advance(-1_001)
    expect(await t.fallback.recall(request())).toBeUndefined()
    expect(await t.store.get(`GET ${URL_A}`)).toBeUndefined()
  })

  it.each(['stale-if-error="10"', 'stale-if-error=10 , max-age=5'])('stale-if-error quoted or followed by a space before the comma (%s) narrows maxAge too', async (cacheControl) => {
    const t = setup({ maxAge: 60_000 })
    await t.remember(request(), json({}, { headers: { 'cache-control': cacheControl } }))
    t.advance(10_000)
    expect(await t.fallback.recall(request())).toBeDefined()
    t.advance(1)
    expect(await t.fallback.recall(request())).toBeUndefined()
  })

  it.each(['stale-if-error=10s', 'stale-if-error=x10', 'stale-if-error=1e3'])('a stale-if-error that is not a whole number of seconds (%s) leaves maxAge as it is', async (cacheControl) => {
    const t = setup({ maxAge: 60_000 })
    await t.remember(request(), json({}, { headers: { 'cache-control': cacheControl } }))
    t.advance(60_000)
    expect(await t.fallback.recall(request())).toBeDefined()
    t.advance(1)
    expect(await t.fallback.recall(request())).toBeUndefined()
  })

  it('a stale-if-error longer than maxAge does not widen it', async () => {
    const t = setup({ maxAge: 5_000 })
    await t.remember(request(), json({}, { headers: { 'cache-control': 'stale-if-error=3600' } }))
    t.advance(5_001)
    expect(await t.fallback.recall(request())).toBeUndefined()
  })
})

describe('Vary', () => {
  it("records the request's values of the Vary headers and serves only a request that matches", async () => {
    const t = setup()
    await t.remember(request(URL_A, { accept: 'application/json', 'accept-language': 'fr' }), json({ lang: 'fr' }, { headers: { vary: 'Accept, Accept-Language' } }))
    expect(await t.fallback.recall(request(URL_A, { accept: 'application/json', 'accept-language': 'fr' }))).toBeDefined()
    expect(await t.fallback.recall(request(URL_A, { accept: 'application/json', 'accept-language': 'de' }))).toBeUndefined()
    expect(await t.fallback.recall(request(URL_A, { accept: 'application/json' }))).toBeUndefined()
    expect(await t.fallback.recall(request(URL_A))).toBeUndefined()
  })

  it('a header absent when stored matches only a request where it is absent too', async () => {
    const t = setup()
    await t.remember(request(), json({}, { headers: { vary: 'X-Tenant' } }))
    expect(await t.fallback.recall(request())).toBeDefined()
    expect(await t.fallback.recall(request(URL_A, { 'x-tenant': '' }))).toBeUndefined()
    expect(await t.fallback.recall(request(URL_A, { 'x-tenant': 'acme' }))).toBeUndefined()
  })

  it.each([
    ['Authorization', 'authorization', 'Bearer s3cr3t-alice', 'Bearer s3cr3t-bob'],
    ['Cookie', 'cookie', 'sid=SESSION-alice', 'sid=SESSION-bob'],
    ['X-Api-Key', 'x-api-key', 'KEY-alice', 'KEY-bob'],
    ['Accept, X-Auth-Token', 'x-auth-token', 'TOKEN-alice', 'TOKEN-bob'],
  ])('Vary: %s never records the credential itself, and the copy is served only to the same one', async (vary, header, alice, bob) => {
    const t = setup({ private: true })
    await t.remember(request(URL_A, { [header]: alice, accept: 'application/json' }), json({ me: 'alice' }, { headers: { vary } }))
    expect(t.put).toHaveBeenCalledOnce()
    const stored = t.put.mock.calls[0][1]
    expect(JSON.stringify(stored.headers)).not.toContain('alice')
    expect(stored.headers.some(([name]) => name === 'x-resilient-vary')).toBe(true)
    expect(await t.fallback.recall(request(URL_A, { [header]: alice, accept: 'application/json' }))).toBeDefined()
    expect(await t.fallback.recall(request(URL_A, { [header]: bob, accept: 'application/json' }))).toBeUndefined()
    expect(await t.fallback.recall(request(URL_A, { accept: 'application/json' }))).toBeUndefined()
  })

  it('Vary: X-Api-Key on a copy stored without a key is served only to requests without one', async () => {
    const t = setup()
    await t.remember(request(), json({ plan: 'free' }, { headers: { vary: 'X-Api-Key' } }))
    expect(await t.fallback.recall(request())).toBeDefined()
    expect(await t.fallback.recall(request(URL_A, { 'x-api-key': 'KEY-bob' }))).toBeUndefined()
  })

  it('an empty element of Vary (a trailing comma) names no header: the copy is stored and served by the other names', async () => {
    const t = setup()
    await t.remember(request(URL_A, { accept: 'text/csv' }), json({ csv: true }, { headers: { vary: 'Accept,' } }))
    expect(t.errors).toEqual([])
    expect(await t.fallback.recall(request(URL_A, { accept: 'text/csv' }))).toBeDefined()
    expect(await t.fallback.recall(request(URL_A, { accept: 'application/json' }))).toBeUndefined()
  })

  it('serves the Vary header itself but never the internal record', async () => {
    const t = setup()
    await t.remember(request(URL_A, { accept: 'text/csv' }), json({}, { headers: { vary: 'Accept' } }))
    const { response } = (await t.fallback.recall(request(URL_A, { accept: 'text/csv' })))!
    expect(response.headers.get('vary')).toBe('Accept')
    expect([...response.headers.keys()]).not.toContain('x-resilient-vary')
  })
})

describe('the caller never waits and never fails because of the store', () => {
  it('remember() returns before the store is touched, and the caller reads the body while a put hangs', async () => {
    const store = memoryStore()
    vi.spyOn(store, 'put').mockReturnValue(new Promise(() => {}))
    const t = setup({}, store)
    const response = json({ a: 1 })
    t.fallback.remember(request(), response)
    expect(t.put).not.toHaveBeenCalled()
    expect(await response.json()).toEqual({ a: 1 })
    await vi.waitFor(() => expect(t.put).toHaveBeenCalledOnce())
  })

  it('stores without a waitUntil too', async () => {
    const t = setup()
    t.fallback.remember(request(), json({ a: 1 }))
    await vi.waitFor(() => expect(t.put).toHaveBeenCalledOnce())
  })

  it('hands the background work to waitUntil, settling once the copy is stored', async () => {
    const t = setup()
    const handed: Promise<unknown>[] = []
    t.fallback.remember(request(), json({ a: 1 }), (p) => handed.push(p))
    expect(handed).toHaveLength(1)
    await handed[0]
    expect(t.put).toHaveBeenCalledOnce()
  })

  it('a response whose body was already used is skipped with a storeerror, never a throw', async () => {
    const t = setup()
    const response = json({})
    await response.text()
    expect(() => t.fallback.remember(request(), response)).not.toThrow()
    expect(t.errors).toEqual([{ key: 'https://api.example.com', error: expect.any(TypeError) }])
  })

  it('a listener that throws does not make remember() throw', async () => {
    const fallback = createFallback({ store: 'memory', maxAge: 1_000, maxBodyBytes: 1_000, private: false }, () => {
      throw new Error('listener')
    })
    const used = json({})
    await used.text()
    expect(() => fallback.remember(request(), used)).not.toThrow()
  })

  it('a put that throws becomes a storeerror naming the origin', async () => {
    const failure = new Error('disk on fire')
    const store = memoryStore()
    vi.spyOn(store, 'put').mockRejectedValue(failure)
    const t = setup({}, store)
    await t.remember(request(), json({}))
    expect(t.errors).toEqual([{ key: 'https://api.example.com', error: failure }])
  })

  it('a get that throws becomes undefined and a storeerror; recall never rejects', async () => {
    const failure = new DOMException('private mode', 'SecurityError')
    const store = memoryStore()
    vi.spyOn(store, 'get').mockRejectedValue(failure)
    const t = setup({}, store)
    await expect(t.fallback.recall(request())).resolves.toBeUndefined()
    expect(t.errors).toEqual([{ key: 'https://api.example.com', error: failure }])
  })

  it('an entry that cannot become a Response is skipped with a storeerror and deleted, from any store', async () => {
    const store = memoryStore()
    vi.spyOn(store, 'get').mockResolvedValue({ url: URL_A, status: 204, statusText: '', headers: [], body: new ArrayBuffer(3), storedAt: 1_700_000_000_000 })
    const remove = vi.spyOn(store, 'delete')
    const t = setup({}, store)
    expect(await t.fallback.recall(request())).toBeUndefined()
    expect(remove).toHaveBeenCalledWith(`GET ${URL_A}`)
    expect(t.errors).toHaveLength(1)
  })

  it('a corrupt entry is skipped with a storeerror and deleted', async () => {
    const store = memoryStore()
    vi.spyOn(store, 'get').mockResolvedValue({ url: URL_A, body: 'not bytes' } as unknown as StoredResponse)
    const remove = vi.spyOn(store, 'delete')
    const t = setup({}, store)
    expect(await t.fallback.recall(request())).toBeUndefined()
    expect(remove).toHaveBeenCalledWith(`GET ${URL_A}`)
    expect(t.errors).toEqual([{ key: 'https://api.example.com', error: expect.objectContaining({ name: 'TypeError', message: `corrupt fallback entry for GET ${URL_A} deleted` }) }])
  })
})

describe('a copy still being written', () => {
  it('is found by a recall before the put lands', async () => {
    const store = memoryStore()
    const realPut = store.put.bind(store)
    let release!: () => void
    vi.spyOn(store, 'put').mockImplementation(async (key, value) => {
      await new Promise<void>((resolve) => (release = resolve))
      await realPut(key, value)
    })
    const t = setup({}, store)
    t.fallback.remember(request(), json({ n: 1 }))
    await vi.waitFor(() => expect(t.put).toHaveBeenCalledOnce())
    const found = await t.fallback.recall(request())
    expect(await found!.response.json()).toEqual({ n: 1 })
    expect(found!.response.headers.get('x-resilient-source')).toBe('fallback')
    release()
  })

  it('is found while its body is still being read, and still only by a request its Vary matches', async () => {
    const t = setup()
    t.fallback.remember(request(URL_A, { accept: 'text/csv' }), json({ n: 1 }, { headers: { vary: 'Accept' } }))
    expect(t.put).not.toHaveBeenCalled()
    expect(await t.fallback.recall(request(URL_A, { accept: 'text/html' }))).toBeUndefined()
    expect(await (await t.fallback.recall(request(URL_A, { accept: 'text/csv' })))!.response.json()).toEqual({ n: 1 })
  })
  it('a newer copy still being read is the one found, though an older write of the URL lands meanwhile', async () => {
    const store = memoryStore()
    const realPut = store.put.bind(store)
    let release!: () => void
    vi.spyOn(store, 'put').mockImplementationOnce(async (key, value) => {
      await new Promise<void>((resolve) => (release = resolve))
      await realPut(key, value)
    })
    const t = setup({}, store)
    const first: Promise<unknown>[] = []
    t.fallback.remember(request(), json({ n: 1 }), (p) => first.push(p))
    await vi.waitFor(() => expect(t.put).toHaveBeenCalledOnce())
    t.advance(1_000)
    const { body, finish } = heldBody('{"n":', '2}')
    t.fallback.remember(request(), new Response(body, { headers: { 'content-type': 'application/json' } }))
    release()
    await Promise.all(first)
    expect(await store.get(`GET ${URL_A}`)).toMatchObject({ status: 200 })
    const found = t.fallback.recall(request())
    finish()
    expect(await (await found)!.response.json()).toEqual({ n: 2 })
  })
})

/** A body whose first chunk arrives at once and whose rest waits for `finish()`. */
function heldBody(head: string, rest: string) {
  let finish!: () => void
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(new TextEncoder().encode(head))
      finish = () => {
        controller.enqueue(new TextEncoder().encode(rest))
        controller.close()
      }
    },
  })
  return { body, finish: () => finish() }
}

describe('a store that never settles never hangs a call', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: 1_700_000_000_000, toFake: ['setTimeout', 'clearTimeout'] })
  })
  afterEach(() => {
    vi.useRealTimers()
  })

  function hungGet() {
    const store = memoryStore()
    vi.spyOn(store, 'get').mockReturnValue(new Promise(() => {}))
    return setup({}, store)
  }

  function watch<T>(promise: Promise<T>) {
    const state: { done: boolean; value?: T } = { done: false }
    promise.then((value) => Object.assign(state, { done: true, value }))
    return state
  }

  it('a read gives up after 1 s with a storeerror', async () => {
    const t = hungGet()
    const recall = watch(t.fallback.recall(request()))
    await vi.advanceTimersByTimeAsync(999)
    expect(recall.done).toBe(false)
    await vi.advanceTimersByTimeAsync(1)
    expect(recall).toEqual({ done: true, value: undefined })
    expect(t.errors).toEqual([{ key: 'https://api.example.com', error: new Error(`fallback store.get("GET ${URL_A}") did not finish within 1000 ms`) }])
  })

  it("a read ends at the call's total deadline when that comes first", async () => {
    const t = hungGet()
    const recall = watch(t.fallback.recall(request(), { deadline: t.now() + 300 }))
    await vi.advanceTimersByTimeAsync(299)
    expect(recall.done).toBe(false)
    await vi.advanceTimersByTimeAsync(1)
    expect(recall).toEqual({ done: true, value: undefined })
    expect(t.errors).toHaveLength(1)
  })

  it('a read after the deadline passed still gets 100 ms, so a copy on disk can answer a total timeout', async () => {
    const t = hungGet()
    const recall = watch(t.fallback.recall(request(), { deadline: t.now() - 5 }))
    await vi.advanceTimersByTimeAsync(99)
    expect(recall.done).toBe(false)
    await vi.advanceTimersByTimeAsync(1)
    expect(recall.done).toBe(true)
  })

  it("a read ends at once when the call's signal aborts, without a storeerror", async () => {
    const t = hungGet()
    const controller = new AbortController()
    const recall = watch(t.fallback.recall(request(), { signal: controller.signal }))
    controller.abort()
    await vi.advanceTimersByTimeAsync(0)
    expect(recall).toEqual({ done: true, value: undefined })
    expect(t.errors).toEqual([])
  })

  it('a copy whose body never ends (its request dropped it) keeps one read waiting half its time, then the stored copy answers every read', async () => {
    const t = setup()
    await t.remember(request(), json({ n: 1 }))
    t.advance(1_000)
    // Its body stops after the first chunk, as a Worker's request that answered without reading it leaves it.
    t.fallback.remember(request(), new Response(heldBody('{"n":', '2}').body, { headers: { 'content-type': 'application/json' } }))
    const first = watch(t.fallback.recall(request()))
    await vi.advanceTimersByTimeAsync(499)
    expect(first.done).toBe(false)
    await vi.advanceTimersByTimeAsync(1)
    expect(await (await first.value)?.response.json()).toEqual({ n: 1 })
    // The next reads do not wait for it; none is a storeerror.
    const second = watch(t.fallback.recall(request(), { deadline: t.now() + 300 }))
    await vi.advanceTimersByTimeAsync(0)
    expect(second.done).toBe(true)
    expect(await second.value!.response.json()).toEqual({ n: 1 })
    expect(t.errors).toEqual([])
  })

  it('a put that never settles is a storeerror after 10 s, and the work handed to waitUntil settles', async () => {
    const store = memoryStore()
    vi.spyOn(store, 'put').mockReturnValue(new Promise(() => {}))
    const t = setup({}, store)
    const work: Promise<unknown>[] = []
    t.fallback.remember(request(), json({}), (p) => work.push(p))
    const settled = watch(Promise.all(work))
    await vi.advanceTimersByTimeAsync(9_999)
    expect(settled.done).toBe(false)
    await vi.advanceTimersByTimeAsync(1)
    expect(settled.done).toBe(true)
    expect(t.errors).toEqual([{ key: 'https://api.example.com', error: new Error(`fallback store.put("GET ${URL_A}") did not finish within 10000 ms`) }])
  })

  it("a store's clear() that never settles rejects rf.clear() after 10 s instead of hanging it", async () => {
    const store = memoryStore()
    vi.spyOn(store, 'clear').mockReturnValue(new Promise(() => {}))
    const t = setup({}, store)
    const cleared = t.fallback.clear().catch((error: unknown) => error)
    await vi.advanceTimersByTimeAsync(10_000)
    expect(await cleared).toEqual(new Error('fallback store.clear() did not finish within 10000 ms'))
  })

  /** A memory store whose first put waits until `answer()`, then writes its copy and answers. */
  function heldFirstPut() {
    const store = memoryStore()
    const realPut = store.put.bind(store)
    let answer!: () => void
    const put = vi.spyOn(store, 'put').mockImplementationOnce((key, entry) => new Promise<void>((resolve) => (answer = () => void realPut(key, entry).then(resolve))))
    return { store, put, answer: () => answer() }
  }

  /** A memory store whose first put never answers; `land()` writes its copy after all (a store that commits late), still without answering. */
  function hungFirstPut() {
    const store = memoryStore()
    const realPut = store.put.bind(store)
    let land!: () => Promise<void>
    vi.spyOn(store, 'put').mockImplementationOnce((key, entry) => {
      land = () => realPut(key, entry)
      return new Promise(() => {})
    })
    return { store, land: () => land() }
  }

  it('a write begun before clear() that never settles (its request dropped it) keeps its URL from being served only until it is taken for lost, 11 s after it began', async () => {
    const t = setup({}, hungFirstPut().store)
    t.fallback.remember(request(), json({ user: 'alice' }))
    await vi.advanceTimersByTimeAsync(0)
    expect(t.put).toHaveBeenCalledOnce()
    await t.fallback.clear()
    t.advance(1_000)
    await t.remember(request(), json({ user: 'bob' }))
    expect(await t.fallback.recall(request())).toBeUndefined()
    t.advance(9_999)
    expect(await t.fallback.recall(request())).toBeUndefined()
    t.advance(1)
    expect(await (await t.fallback.recall(request()))!.response.json()).toEqual({ user: 'bob' })
  })

  it('a write begun before clear() that lands after it was taken for lost is never served: its copy is deleted when read', async () => {
    const { store, land } = hungFirstPut()
    const t = setup({}, store)
    t.fallback.remember(request(), json({ user: 'alice' }))
    await vi.advanceTimersByTimeAsync(0)
    await t.fallback.clear()
    t.advance(11_000)
    await t.remember(request(), json({ user: 'bob' }))
    expect(await (await t.fallback.recall(request()))!.response.json()).toEqual({ user: 'bob' })
    // Alice's copy lands over bob's, its put still unanswered.
    await land()
    expect(await t.fallback.recall(request())).toBeUndefined()
    expect(await store.get(`GET ${URL_A}`)).toBeUndefined()
  })

  it("a write begun before clear() that lands after it is never served, though the store's delete of it fails", async () => {
    const { store, answer } = heldFirstPut()
    vi.spyOn(store, 'delete').mockRejectedValue(new Error('quota'))
    const t = setup({}, store)
    const work: Promise<unknown>[] = []
    t.fallback.remember(request(), json({ user: 'alice' }), (p) => work.push(p))
    await vi.advanceTimersByTimeAsync(0)
    await t.fallback.clear()
    answer()
    await Promise.all(work)
    expect(await store.get(`GET ${URL_A}`)).toMatchObject({ url: URL_A })
    expect(await t.fallback.recall(request())).toBeUndefined()
  })

  it('a write of the same URL in the same millisecond after a clear() does not take the doubt off the copy from before it', async () => {
    const { store, put, answer } = heldFirstPut()
    put.mockImplementationOnce(() => new Promise<void>(() => {}))
    vi.spyOn(store, 'delete').mockRejectedValue(new Error('dropped'))
    const t = setup({}, store)
    const work: Promise<unknown>[] = []
    t.fallback.remember(request(), json({ user: 'alice' }), (p) => work.push(p))
    await vi.advanceTimersByTimeAsync(0)
    await t.fallback.clear()
    // Bob's copy, the same millisecond (workerd's clock stands still between I/O), its write never settles.
    t.fallback.remember(request(), json({ user: 'bob' }))
    await vi.advanceTimersByTimeAsync(0)
    answer()
    await Promise.all(work).catch(() => {})
    t.advance(11_000)
    expect(await t.fallback.recall(request())).toBeUndefined()
  })

  /** `count` writes of other URLs whose requests ended (puts that never settle), a ms apart, then taken for lost by a read 11 s on. */
  async function loseWrites(t: ReturnType<typeof setup>, store: FallbackStore, count: number): Promise<void> {
    vi.mocked(store.put).mockImplementation(() => new Promise(() => {}))
    for (let i = 0; i < count; i++) {
      t.advance(1)
      t.fallback.remember(request(`https://api.example.com/x${i}`), json({ i }))
    }
    await vi.advanceTimersByTimeAsync(0)
    t.advance(11_000)
    await t.fallback.recall(request('https://api.example.com/none'))
  }

  /**
   * Alice's copy lands after a clear() (in doubt), then `others` writes of other URLs are taken for lost (puts that never
   * settle: their requests ended); however many push hers out of the doubt list, it is never served.
   */
  async function inDoubtThenLost(others: number): Promise<void> {
    const { store, land } = hungFirstPut()
    const t = setup({}, store)
    t.fallback.remember(request(), json({ user: 'alice' }))
    await vi.advanceTimersByTimeAsync(0)
    await t.fallback.clear()
    t.advance(11_000)
    expect(await t.fallback.recall(request())).toBeUndefined()
    await land()
    await loseWrites(t, store, others)
    expect(await t.fallback.recall(request())).toBeUndefined()
  }

  it('past a thousand copies in doubt, the oldest are still never served after a clear()', () => inDoubtThenLost(1_001))

  // Alice's copy, the oldest in doubt, alone leaves for the floor.
  it('the copy in doubt pushed out by exactly the thousand-and-first is still never served after a clear()', () => inDoubtThenLost(1_000))

  it("the delete of a copy landed after a clear() is in the work given to waitUntil, with a bound and a message of its own", async () => {
    const { store, answer } = heldFirstPut()
    vi.spyOn(store, 'delete').mockReturnValue(new Promise(() => {}))
    const t = setup({}, store)
    let settled = false
    t.fallback.remember(request(), json({ user: 'alice' }), (p) => void p.then(() => (settled = true)))
    await vi.advanceTimersByTimeAsync(0)
    await t.fallback.clear()
    answer()
    await vi.advanceTimersByTimeAsync(9_999)
    expect(settled).toBe(false)
    await vi.advanceTimersByTimeAsync(1)
    expect(settled).toBe(true)
    expect(t.errors).toEqual([{ key: 'https://api.example.com', error: new Error(`fallback store.delete("GET ${URL_A}") did not finish within 10000 ms`) }])
    // Still in the store, never served (its read waits for the delete it makes, then gives up).
    const found = t.fallback.recall(request())
    await vi.advanceTimersByTimeAsync(1_000)
    expect(await found).toBeUndefined()
  })

  it("a write taken for lost spares other URLs' copies, and copies stored after the clock was set back", async () => {
    const t = setup({}, hungFirstPut().store)
    t.fallback.remember(request(), json({ user: 'alice' }))
    await vi.advanceTimersByTimeAsync(0)
    await t.fallback.clear()
    t.advance(11_000)
    expect(await t.fallback.recall(request())).toBeUndefined()
    // The device's clock is set back an hour: what is stored now is dated before alice's lost copy.
    t.advance(-3_600_000)
    await t.remember(request(), json({ user: 'bob' }))
    await t.remember(request('https://api.example.com/other'), json({ other: true }))
    expect(await (await t.fallback.recall(request()))!.response.json()).toEqual({ user: 'bob' })
    expect(await (await t.fallback.recall(request('https://api.example.com/other')))!.response.json()).toEqual({ other: true })
  })

  it('a write taken for lost before clear() that lands after it is never served either', async () => {
    const { store, land } = hungFirstPut()
    const t = setup({}, store)
    t.fallback.remember(request(), json({ user: 'alice' }))
    await vi.advanceTimersByTimeAsync(0)
    t.advance(11_000)
    // Another URL's write drops alice's as lost.
    await t.remember(request('https://api.example.com/other'), json({}))
    await t.fallback.clear()
    t.advance(1_000)
    await t.remember(request(), json({ user: 'bob' }))
    expect(await (await t.fallback.recall(request()))!.response.json()).toEqual({ user: 'bob' })
    await land()
    expect(await t.fallback.recall(request())).toBeUndefined()
  })

  /** Alice's copy lands, its put still unanswered, with no clear() since; 11 s on, the read takes the write for lost and serves her copy. */
  async function landedThenTakenForLost() {
    const { store, land } = hungFirstPut()
    const t = setup({}, store)
    t.fallback.remember(request(), json({ user: 'alice' }))
    await vi.advanceTimersByTimeAsync(0)
    await land()
    t.advance(11_000)
    expect(await (await t.fallback.recall(request()))!.response.json()).toEqual({ user: 'alice' })
    return { t, store }
  }

  it('past a thousand copies in doubt with no clear() since their writes began, the oldest is still served once it lands', async () => {
    const { t, store } = await landedThenTakenForLost()
    // A thousand and one writes of other URLs whose requests ended, taken for lost: alice's copy is among the oldest in doubt.
    await loseWrites(t, store, 1_001)
    expect(await (await t.fallback.recall(request()))!.response.json()).toEqual({ user: 'alice' })
  })

  it('a write taken for lost with no clear() since it began still has its copy served once it lands (it is stale only once a clear() comes)', async () => {
    const { t } = await landedThenTakenForLost()
    expect(await (await t.fallback.recall(request()))!.response.json()).toEqual({ user: 'alice' })
  })
})

describe('quota', () => {
  it('a QuotaExceededError evicts and retries once; when the retry works, nothing is reported', async () => {
    const store = memoryStore()
    const evict = vi.spyOn(evictable(store), 'evict')
    const t = setup({}, store)
    t.put.mockRejectedValueOnce(quotaError())
    await t.remember(request(), json({ a: 1 }))
    expect(evict).toHaveBeenCalledOnce()
    expect(t.put).toHaveBeenCalledTimes(2)
    expect(t.errors).toEqual([])
    expect(await t.fallback.recall(request())).toBeDefined()
  })

  it('when the retry hits the quota too, it gives up with a storeerror carrying the error', async () => {
    const store = memoryStore()
    const evict = vi.spyOn(evictable(store), 'evict')
    const t = setup({}, store)
    const second = quotaError()
    t.put.mockRejectedValueOnce(quotaError()).mockRejectedValueOnce(second)
    await t.remember(request(), json({ a: 1 }))
    expect(evict).toHaveBeenCalledOnce()
    expect(t.put).toHaveBeenCalledTimes(2)
    expect(t.errors).toEqual([{ key: 'https://api.example.com', error: second }])
  })

  it('a store that cannot evict is cleared before the retry', async () => {
    const entries = new Map<string, StoredResponse>()
    const custom: FallbackStore = {
      get: async (key) => entries.get(key),
      put: async (key, value) => void entries.set(key, value),
      delete: async (key) => void entries.delete(key),
      clear: async () => entries.clear(),
    }
    const clear = vi.spyOn(custom, 'clear')
    const t = setup({}, custom)
    t.put.mockRejectedValueOnce(quotaError())
    await t.remember(request(), json({}))
    expect(clear).toHaveBeenCalledOnce()
    expect(entries.size).toBe(1)
  })

  it('other put errors are not retried', async () => {
    const t = setup()
    t.put.mockRejectedValueOnce(new Error('nope'))
    await t.remember(request(), json({}))
    expect(t.put).toHaveBeenCalledOnce()
    expect(t.errors).toHaveLength(1)
  })
})

describe('clear', () => {
  it('empties the store', async () => {
    const t = setup()
    await t.remember(request(), json({}))
    await t.fallback.clear()
    expect(await t.fallback.recall(request())).toBeUndefined()
  })

  it('a copy whose body is still arriving when clear() is called never lands after it (logout)', async () => {
    const t = setup({ private: true })
    const slow = slowResponse()
    const work: Promise<unknown>[] = []
    t.fallback.remember(request(URL_A, { authorization: 'Bearer alice' }), slow.response, (p) => work.push(p))
    await t.fallback.clear()
    slow.end()
    await Promise.all(work)
    expect(t.put).not.toHaveBeenCalled()
    expect(await t.fallback.recall(request(URL_A, { authorization: 'Bearer alice' }))).toBeUndefined()
  })

  it('a damaged copy read when clear() comes is dropped quietly: no storeerror, and the good copy written after the clear is not deleted', async () => {
    const store = memoryStore()
    let read!: (entry: StoredResponse) => void
    vi.spyOn(store, 'get').mockImplementationOnce(() => new Promise((resolve) => (read = resolve)))
    const t = setup({}, store)
    const found = t.fallback.recall(request())
    await t.fallback.clear()
    await t.remember(request(), json({ user: 'bob' }))
    read({ url: URL_A, body: 'not bytes' } as unknown as StoredResponse)
    expect(await found).toBeUndefined()
    expect(t.errors).toEqual([])
    expect(await (await t.fallback.recall(request()))!.response.json()).toEqual({ user: 'bob' })
  })

  it('a put under way when clear() is called never leaves its copy: clear() does not wait for it, and the copy is deleted when it lands', async () => {
    const store = memoryStore()
    const realPut = store.put.bind(store)
    let release!: () => void
    vi.spyOn(store, 'put').mockImplementation(async (key, value) => {
      await new Promise<void>((resolve) => (release = resolve))
      await realPut(key, value)
    })
    const remove = vi.spyOn(store, 'delete')
    const t = setup({}, store)
    t.fallback.remember(request(), json({ a: 1 }))
    await vi.waitFor(() => expect(t.put).toHaveBeenCalledOnce())
    await t.fallback.clear()
    expect(await t.fallback.recall(request())).toBeUndefined()
    release()
    await vi.waitFor(() => expect(remove).toHaveBeenCalledWith(`GET ${URL_A}`))
    expect(await store.get(`GET ${URL_A}`)).toBeUndefined()
    expect(await t.fallback.recall(request())).toBeUndefined()
  })

  it('a put that wrote its copy after clear() but has not resolved yet (a store that commits before it answers) is never served meanwhile; other URLs are', async () => {
    const store = memoryStore()
    const realPut = store.put.bind(store)
    let release!: () => void
    let answer!: () => void
    vi.spyOn(store, 'put').mockImplementation(async (key, value) => {
      if (key !== `GET ${URL_A}`) return realPut(key, value)
      await new Promise<void>((resolve) => (release = resolve))
      await realPut(key, value)
      await new Promise<void>((resolve) => (answer = resolve))
    })
    const remove = vi.spyOn(store, 'delete')
    const t = setup({}, store)
    t.fallback.remember(request(), json({ user: 'alice' }))
    await vi.waitFor(() => expect(t.put).toHaveBeenCalledOnce())
    await t.fallback.clear()
    release()
    // The pre-clear copy is in the store, its put not answered yet.
    await vi.waitFor(async () => expect(await store.get(`GET ${URL_A}`)).toBeDefined())
    expect(await t.fallback.recall(request())).toBeUndefined()
    // Another URL's copy taken after the clear is served meanwhile.
    const other = 'https://api.example.com/other'
    await t.remember(request(other), json({ other: true }))
    expect(await (await t.fallback.recall(request(other)))!.response.json()).toEqual({ other: true })
    answer()
    await vi.waitFor(() => expect(remove).toHaveBeenCalledWith(`GET ${URL_A}`))
    expect(await store.get(`GET ${URL_A}`)).toBeUndefined()
  })

  it('a recall of a private copy whose credentials are being checked when clear() comes serves nothing', async () => {
    const t = setup({ private: true })
    const alice = request(URL_A, { authorization: 'Bearer alice' })
    await t.remember(alice, json({ me: 'alice' }))
    // The recall's digest of the credentials goes on once the clear() has begun.
    const digest = crypto.subtle.digest.bind(crypto.subtle)
    let entered!: () => void
    const digesting = new Promise<void>((resolve) => (entered = resolve))
    let go!: () => void
    const gate = new Promise<void>((resolve) => (go = resolve))
    const spy = vi.spyOn(crypto.subtle, 'digest').mockImplementation(async (algorithm, data) => {
      entered()
      await gate
      return digest(algorithm, data)
    })
    try {
      const found = t.fallback.recall(alice)
      await digesting
      const clearing = t.fallback.clear()
      go()
      expect(await found).toBeUndefined()
      await clearing
    } finally {
      spy.mockRestore()
    }
  })

  it("on the 'auto' store where no other tab can be told (no page: Node, Deno, Bun, workerd), clear() resolves and the copy read meanwhile never lands", async () => {
    const t = setup({ store: 'auto' })
    const { body, finish } = heldBody('{"n":', '1}')
    const work: Promise<unknown>[] = []
    t.fallback.remember(request(), new Response(body, { headers: { 'content-type': 'application/json' } }), (p) => work.push(p))
    await expect(t.fallback.clear()).resolves.toBeUndefined()
    finish()
    await Promise.all(work)
    expect(await t.fallback.recall(request())).toBeUndefined()
  })

  it('clear() never waits on a put that never settles', async () => {
    const store = memoryStore()
    vi.spyOn(store, 'put').mockReturnValue(new Promise(() => {}))
    const t = setup({}, store)
    t.fallback.remember(request(), json({ a: 1 }))
    await vi.waitFor(() => expect(t.put).toHaveBeenCalledOnce())
    const cleared = vi.fn()
    t.fallback.clear().then(cleared)
    await vi.waitFor(() => expect(cleared).toHaveBeenCalledOnce())
    expect(await t.fallback.recall(request())).toBeUndefined()
  })

  it('an endless response body does not hold up clear()', async () => {
    const t = setup()
    const endless = new ReadableStream<Uint8Array>({ start: (controller) => controller.enqueue(new Uint8Array(10)) })
    t.fallback.remember(request(), new Response(endless))
    await expect(t.fallback.clear()).resolves.toBeUndefined()
  })
})

describe('with real HTTP responses (msw)', () => {
  let up = true
  const server = setupServer(
    http.get('https://api.example.com/profile', () =>
      up
        ? HttpResponse.json({ name: 'alice' }, { headers: { 'set-cookie': 'sid=abc', 'cache-control': 'max-age=30', vary: 'Accept' } })
        : HttpResponse.error(),
    ),
  )
  beforeAll(() => server.listen({ onUnhandledRequest: 'error' }))
  afterAll(() => server.close())

  it('stores a fetched response and serves it when the network fails, without its Set-Cookie', async () => {
    const t = setup({ private: true })
    const url = 'https://api.example.com/profile'
    const init = { headers: { accept: 'application/json' } }
    const live = await fetch(url, init)
    expect(live.headers.get('set-cookie')).toBe('sid=abc')
    await t.remember(request(url, init.headers), live)
    expect(await live.json()).toEqual({ name: 'alice' })
    up = false
    await expect(fetch(url, init)).rejects.toThrow(TypeError)
    t.advance(3_000)
    const { response } = (await t.fallback.recall(request(url, init.headers)))!
    expect(await response.json()).toEqual({ name: 'alice' })
    expect(response.headers.get('age')).toBe('3')
    expect(response.headers.get('set-cookie')).toBeNull()
    expect(response.headers.get('cache-control')).toBe('max-age=30')
  })
})

describe('refresh', () => {
  it('a URL is copied at most once a second, whatever its call rate; other URLs are not held back', async () => {
    const t = setup()
    await t.remember(request(), json({ n: 1 }))
    t.advance(999)
    await t.remember(request(), json({ n: 2 }))
    await t.remember(request('https://api.test/other'), json({ other: true }))
    expect(t.put).toHaveBeenCalledTimes(2)
    t.advance(1)
    await t.remember(request(), json({ n: 3 }))
    expect(t.put).toHaveBeenCalledTimes(3)
    const found = await t.fallback.recall(request())
    expect(await found!.response.json()).toEqual({ n: 3 })
  })

  it('a copy clear() dropped leaves the refresh slot of the newer copy taken after the clear: the URL is still copied at most once a second', async () => {
    const t = setup()
    const { body, finish } = heldBody('{"n":', '1}')
    const dropped: Promise<unknown>[] = []
    t.fallback.remember(request(), new Response(body, { headers: { 'content-type': 'application/json' } }), (p) => dropped.push(p))
    await t.fallback.clear()
    t.advance(10)
    await t.remember(request(), json({ n: 2 }))
    finish()
    await Promise.all(dropped)
    t.advance(10)
    await t.remember(request(), json({ n: 3 }))
    expect(t.put).toHaveBeenCalledOnce()
    expect(await (await t.fallback.recall(request()))!.response.json()).toEqual({ n: 2 })
  })

  it('a second good response in the same millisecond is not copied again', async () => {
    const t = setup()
    await t.remember(request(), json({ n: 1 }))
    await t.remember(request(), json({ n: 2 }))
    expect(t.put).toHaveBeenCalledOnce()
  })

  it('after the clock is set back, the next good response is copied at once, not held back until the clock catches up', async () => {
    const t = setup()
    await t.remember(request(), json({ n: 1 }))
    t.advance(-60_000)
    await t.remember(request(), json({ n: 2 }))
    expect(t.put).toHaveBeenCalledTimes(2)
    expect(await (await t.fallback.recall(request()))!.response.json()).toEqual({ n: 2 })
  })

  it('the refresh slots of a thousand URLs are kept; past that the oldest is let go, and its URL is copied again at once', async () => {
    const t = setup()
    const url = (i: number) => `https://api.example.com/r${i}`
    for (let i = 0; i < 1_000; i++) await t.remember(request(url(i)), json({ i }))
    await t.remember(request(url(0)), json({ again: 1 }))
    expect(t.put).toHaveBeenCalledTimes(1_000)
    await t.remember(request(url(1_000)), json({ i: 1_000 }))
    await t.remember(request(url(0)), json({ again: 2 }))
    expect(t.put).toHaveBeenCalledTimes(1_002)
    expect(await (await t.fallback.recall(request(url(0))))!.response.json()).toEqual({ again: 2 })
  })

  it('after a store error the next good response is copied at once, not a second later', async () => {
    const store = memoryStore()
    const t = setup({}, store)
    t.put.mockRejectedValueOnce(new Error('disk hiccup'))
    await t.remember(request(), json({ n: 1 }))
    expect(t.errors).toHaveLength(1)
    await t.remember(request(), json({ n: 2 }))
    expect(t.put).toHaveBeenCalledTimes(2)
    expect(await (await t.fallback.recall(request()))!.response.json()).toEqual({ n: 2 })
  })
})
