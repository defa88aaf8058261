import { delay, http, HttpResponse } from 'msw'
import { setupServer } from 'msw/node'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { createResilientFetch } from '../src/index'
import { ResilienceError } from '../src/errors'
import type { ResilientFetchOptions, ResilientRequestInit } from '../src/types'
import { rejection } from './helpers.js'

// Captured before msw patches globalThis.fetch: the platform's own validation of methods and URLs.
const nativeFetch = globalThis.fetch

const API = 'https://api.compat.test'

/** Every request body the handlers read, as text, in arrival order. */
const bodies: { method: string; path: string; contentType: string | null; body: string }[] = []
/** Answers 503 to the first request of a path, 200 after: a retry's body must arrive intact. */
const failedOnce = new Set<string>()

const server = setupServer(
  http.get(`${API}/ok`, () => HttpResponse.json({ ok: true }, { status: 201, statusText: 'Made', headers: { 'x-trace': 'abc' } })),
  http.get(`${API}/missing`, () => new HttpResponse('no such thing', { status: 404, statusText: 'Not Found', headers: { 'x-trace': 'def' } })),
  http.get(`${API}/broken`, () => new HttpResponse('oops', { status: 500, headers: { 'x-trace': 'ghi' } })),
  http.get(`${API}/headers`, ({ request }) => HttpResponse.json({ accept: request.headers.get('accept'), token: request.headers.get('x-token') })),
  http.get(`${API}/hang`, async () => {
    await delay('infinite')
  }),
  http.get(`${API}/network-error`, () => HttpResponse.error()),
  http.all(`${API}/echo/*`, async ({ request }) => {
    const path = new URL(request.url).pathname
    bodies.push({ method: request.method, path, contentType: request.headers.get('content-type'), body: await request.text() })
    if (path.includes('flaky') && !failedOnce.has(path)) {
      failedOnce.add(path)
      return new HttpResponse('try again', { status: 503 })
    }
    return new HttpResponse('stored', { status: 200 })
  }),
)

beforeAll(() => server.listen({ onUnhandledRequest: 'error' }))
afterEach(() => {
  bodies.length = 0
  failedOnce.clear()
})
afterAll(() => server.close())

async function describeResponse(response: Response) {
  return {
    status: response.status,
    statusText: response.statusText,
    ok: response.ok,
    url: response.url,
    headers: [...response.headers],
    body: await response.text(),
  }
}

const quick = { backoff: { base: 1, jitter: 'none' as const } }

// Drop-in holds with the default fallback stage in the path (it tees 200 bodies into the store) and without it.
const VARIANTS: [string, ResilientFetchOptions][] = [
  ['fallback off', { fallback: false }],
  ['fallback on', { fallback: { store: 'memory' } }],
]

describe.each(VARIANTS)('drop-in fetch semantics, %s', (_, variant) => {
  it.each(['ok', 'missing', 'broken'])('answers /%s with the same Response fetch gives, non-2xx not thrown', async (path) => {
    const rf = createResilientFetch({ retry: false, ...variant })
    const ours = await rf(`${API}/${path}`)
    const theirs = await fetch(`${API}/${path}`)
    expect(ours).toBeInstanceOf(Response)
    expect(await describeResponse(ours)).toEqual(await describeResponse(theirs))
  })

  it('returns the last 500 after its retries instead of throwing', async () => {
    const rf = createResilientFetch({ retry: { limit: 1, ...quick }, ...variant })
    const response = await rf(`${API}/broken`)
    expect(response.status).toBe(500)
    expect(await response.text()).toBe('oops')
    expect(rf.snapshot().totals).toMatchObject({ requests: 1, failures: 1, retries: 1 })
  })

  it('takes a Request and a URL as input, headers included, as fetch does', async () => {
    const rf = createResilientFetch({ ...variant })
    const request = () => new Request(`${API}/headers`, { headers: { accept: 'application/json', 'x-token': 't1' } })
    const inputs: [RequestInfo | URL, RequestInit | undefined][] = [
      [request(), undefined],
      [new URL(`${API}/headers`), { headers: { 'x-token': 't2' } }],
      // init's headers replace the Request's, as in fetch.
      [request(), { headers: { 'x-token': 't3' } }],
    ]
    const seen = []
    for (const [input, init] of inputs) {
      const ours = await (await rf(input, init)).json()
      const theirs = await (await fetch(input instanceof Request ? input.clone() : input, init)).json()
      expect(ours).toEqual(theirs)
      seen.push(ours)
    }
    expect(seen.map((s) => s.token)).toEqual(['t1', 't2', 't3'])
    expect(seen[0].accept).toBe('application/json')
  })

  // Keyed by origin, by a key function (which builds a Request first) and per call (no URL parsing at all).
  const KEYINGS: [string, ResilientFetchOptions, ResilientRequestInit['resilience']][] = [
    ['by origin', {}, undefined],
    ['by a key function', { key: (request) => new URL(request.url).pathname }, undefined],
    ['by resilience.key', {}, { key: 'api' }],
  ]

  it.each(KEYINGS)('rejects a relative URL with the TypeError fetch gives, keyed %s', async (_, keying, resilience) => {
    const rf = createResilientFetch({ ...keying, ...variant })
    const ours = await rejection(rf('/relative/path', { resilience }))
    const theirs = await rejection(fetch('/relative/path'))
    expect(ours).toBeInstanceOf(TypeError)
    expect((ours as Error).constructor).toBe((theirs as Error).constructor)
    expect((ours as Error).message).toBe((theirs as Error).message)
  })

  it.each(KEYINGS)('rejects a bad URL with the TypeError fetch gives, keyed %s', async (_, keying, resilience) => {
    const rf = createResilientFetch({ ...keying, ...variant })
    const ours = await rejection(rf('http://[bad', { resilience }))
    const theirs = await rejection(fetch('http://[bad'))
    expect(ours).toBeInstanceOf(TypeError)
    expect((ours as Error).message).toBe((theirs as Error).message)
  })

  const BAD_METHODS = ['CONNECT', 'TRACE', 'bad method\n']
  it.each(KEYINGS.flatMap(([name, keying, resilience]) => BAD_METHODS.map((method) => [method, name, keying, resilience] as const)))(
    'rejects the method %j with the error fetch gives, keyed %s',
    async (method, _, keying, resilience) => {
      // msw answers any method; the platform's fetch is what validates them.
      const rf = createResilientFetch({ ...keying, fetch: nativeFetch, ...variant })
      const ours = await rejection(rf('http://127.0.0.1:9/x', { method, resilience }))
      const theirs = await rejection(nativeFetch('http://127.0.0.1:9/x', { method }))
      expect(theirs).toBeInstanceOf(TypeError)
      expect((ours as Error).constructor).toBe((theirs as Error).constructor)
      expect((ours as Error).message).toBe((theirs as Error).message)
    },
  )

  it.each([
    ['a custom object', { why: 'navigated away' }],
    ['a string', 'stop'],
    ['an Error', new Error('cancelled by the user')],
  ])('a user abort rejects with signal.reason, %s, kept as is', async (_, reason) => {
    const rf = createResilientFetch({ ...variant })
    const controller = new AbortController()
    const call = rejection(rf(`${API}/hang`, { signal: controller.signal }))
    await new Promise((resolve) => setTimeout(resolve, 10))
    controller.abort(reason)
    expect(await call).toBe(reason)
    // Already aborted before the call: same reason, at once.
    expect(await rejection(rf(`${API}/ok`, { signal: controller.signal }))).toBe(reason)
  })

  it('a user abort rejects with signal.reason even from a transport that rejects with a generic AbortError', async () => {
    // Older runtimes' fetch rejects an abort with a fresh DOMException, not the reason.
    const transport: typeof fetch = (_input, init) =>
      new Promise((_, reject) => init!.signal!.addEventListener('abort', () => reject(new DOMException('The operation was aborted.', 'AbortError'))))
    const rf = createResilientFetch({ fetch: transport, ...variant })
    const controller = new AbortController()
    const call = rejection(rf(`${API}/hang`, { signal: controller.signal }))
    const reason = { why: 'route changed' }
    controller.abort(reason)
    expect(await call).toBe(reason)
  })

  it('a plain abort() rejects with the same AbortError DOMException the signal carries', async () => {
    const rf = createResilientFetch({ ...variant })
    const controller = new AbortController()
    const call = rejection(rf(`${API}/hang`, { signal: controller.signal }))
    controller.abort()
    const error = await call
    expect(error).toBe(controller.signal.reason)
    expect(error).toBeInstanceOf(DOMException)
    expect((error as DOMException).name).toBe('AbortError')
  })

  it("the caller's AbortSignal.timeout() rejects with the platform's TimeoutError DOMException, not ours", async () => {
    const rf = createResilientFetch({ ...variant })
    const signal = AbortSignal.timeout(30)
    const error = await rejection(rf(`${API}/hang`, { signal }))
    expect(error).toBeInstanceOf(DOMException)
    expect((error as DOMException).name).toBe('TimeoutError')
    expect(error).not.toBeInstanceOf(ResilienceError)
    expect(error).toBe(signal.reason)
  })

  it("a network error is fetch's own TypeError, cause included", async () => {
    const rf = createResilientFetch({ retry: { limit: 1, ...quick }, ...variant })
    const ours = await rejection(rf(`${API}/network-error`))
    const theirs = await rejection(fetch(`${API}/network-error`))
    expect(ours).toBeInstanceOf(TypeError)
    expect((ours as Error).message).toBe((theirs as Error).message)
    expect('cause' in (ours as Error)).toBe('cause' in (theirs as Error))
    expect(rf.snapshot().totals).toMatchObject({ requests: 1, failures: 1, retries: 1 })
  })
})

describe.each(VARIANTS)('request bodies arrive intact, %s', (_, variant) => {
  const form = () => {
    const f = new FormData()
    f.append('name', 'Zoë')
    f.append('file', new Blob(['file bytes'], { type: 'text/plain' }), 'a.txt')
    return f
  }

  it('POST: a string, JSON, URLSearchParams, bytes and FormData', async () => {
    const rf = createResilientFetch({ ...variant })
    const json = JSON.stringify({ id: 1, tags: ['a', 'ü'] })
    await rf(`${API}/echo/string`, { method: 'POST', body: 'plain text ✓' })
    await rf(`${API}/echo/json`, { method: 'POST', body: json, headers: { 'content-type': 'application/json' } })
    await rf(`${API}/echo/params`, { method: 'POST', body: new URLSearchParams({ q: 'a b', n: '1' }) })
    await rf(`${API}/echo/bytes`, { method: 'POST', body: new TextEncoder().encode('raw bytes') })
    await rf(`${API}/echo/form`, { method: 'POST', body: form() })
    expect(bodies.slice(0, 4)).toEqual([
      { method: 'POST', path: '/echo/string', contentType: 'text/plain;charset=UTF-8', body: 'plain text ✓' },
      { method: 'POST', path: '/echo/json', contentType: 'application/json', body: json },
      { method: 'POST', path: '/echo/params', contentType: 'application/x-www-form-urlencoded;charset=UTF-8', body: 'q=a+b&n=1' },
      { method: 'POST', path: '/echo/bytes', contentType: null, body: 'raw bytes' },
    ])
    const multipart = bodies[4]!
    expect(multipart.contentType).toMatch(/^multipart\/form-data; boundary=/)
    expect(multipart.body).toContain('name="name"\r\n\r\nZoë')
    expect(multipart.body).toContain('filename="a.txt"\r\nContent-Type: text/plain\r\n\r\nfile bytes')
  })

  it('POST: a Request with a body', async () => {
    const rf = createResilientFetch({ ...variant })
    await rf(new Request(`${API}/echo/request`, { method: 'POST', body: 'from a Request' }))
    expect(bodies).toEqual([{ method: 'POST', path: '/echo/request', contentType: 'text/plain;charset=UTF-8', body: 'from a Request' }])
  })

  it.each([
    ['a string', () => 'put me twice'],
    ['JSON', () => JSON.stringify({ v: 2 })],
    ['bytes', () => new TextEncoder().encode('bytes twice')],
    ['URLSearchParams', () => new URLSearchParams({ a: '1' })],
  ])('PUT retried after a 503 sends %s again, whole', async (_, body) => {
    const rf = createResilientFetch({ retry: { limit: 2, ...quick }, ...variant })
    const response = await rf(`${API}/echo/flaky`, { method: 'PUT', body: body() })
    expect(response.status).toBe(200)
    expect(bodies).toHaveLength(2)
    expect(bodies[1]).toEqual(bodies[0])
    expect(bodies[0]!.body.length).toBeGreaterThan(0)
  })

  it('PUT retried after a 503 sends FormData again, whole', async () => {
    const rf = createResilientFetch({ retry: { limit: 2, ...quick }, ...variant })
    const response = await rf(`${API}/echo/flaky-form`, { method: 'PUT', body: form() })
    expect(response.status).toBe(200)
    expect(bodies).toHaveLength(2)
    for (const b of bodies) expect(b.body).toContain('filename="a.txt"\r\nContent-Type: text/plain\r\n\r\nfile bytes')
  })

  it('PUT of a Request with a body, retried after a 503, sends the body again', async () => {
    const rf = createResilientFetch({ retry: { limit: 2, ...quick }, ...variant })
    const request = new Request(`${API}/echo/flaky-request`, { method: 'PUT', body: 'request body', headers: { 'content-type': 'text/x-custom' } })
    const response = await rf(request)
    expect(response.status).toBe(200)
    expect(bodies).toEqual([
      { method: 'PUT', path: '/echo/flaky-request', contentType: 'text/x-custom', body: 'request body' },
      { method: 'PUT', path: '/echo/flaky-request', contentType: 'text/x-custom', body: 'request body' },
    ])
  })

  it('a PUT with a stream body is sent once and not retried: a stream cannot be replayed', async () => {
    const rf = createResilientFetch({ retry: { limit: 2, ...quick }, ...variant })
    const stream = new Blob(['streamed']).stream()
    const response = await rf(`${API}/echo/flaky-stream`, { method: 'PUT', body: stream, duplex: 'half' } as RequestInit)
    expect(response.status).toBe(503)
    expect(bodies).toEqual([{ method: 'PUT', path: '/echo/flaky-stream', contentType: null, body: 'streamed' }])
  })
})

describe("a runtime's own fetch options (Node's dispatcher, Bun's proxy, Deno's client)", () => {
  it('reach the transport on every attempt, also when a custom key function makes the call a Request', async () => {
    const dispatcher = { dispatch: () => true }
    const seen: unknown[] = []
    const transport = (input: RequestInfo | URL, init?: RequestInit) => {
      const extra = init as { dispatcher?: unknown; proxy?: unknown } | undefined
      seen.push([extra?.dispatcher === dispatcher, extra?.proxy, init?.signal instanceof AbortSignal])
      return Promise.resolve(new Response('ok', { status: seen.length === 1 ? 503 : 200 }))
    }
    const init = { dispatcher, proxy: 'http://proxy.test:3128', headers: { 'x-token': 't' } } as RequestInit
    for (const key of [undefined, () => 'custom']) {
      seen.length = 0
      const rf = createResilientFetch({ fetch: transport, key, retry: { limit: 1, ...quick }, fallback: false })
      expect((await rf(`${API}/ok`, init)).status).toBe(200)
      expect(seen).toEqual([[true, 'http://proxy.test:3128', true], [true, 'http://proxy.test:3128', true]])
    }
  })

  it('reach the transport from an init with no prototype (Object.create(null)), read as a plain init', async () => {
    const dispatcher = { dispatch: () => true }
    const seen: unknown[] = []
    const transport = async (input: RequestInfo | URL, init?: RequestInit) => {
      seen.push([(init as { dispatcher?: unknown } | undefined)?.dispatcher === dispatcher, new Request(input, init).headers.get('x-token')])
      return new Response('ok')
    }
    const rf = createResilientFetch({ fetch: transport, fallback: false })
    const init = Object.assign(Object.create(null) as RequestInit, { dispatcher, headers: { 'x-token': 't' }, resilience: { retry: false as const } })
    expect((await rf(`${API}/ok`, init)).status).toBe(200)
    expect(seen).toEqual([[true, 't']])
  })
})
