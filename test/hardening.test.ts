import { createServer, type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Readable } from 'node:stream'
import { Window } from 'happy-dom'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest'
import { ResilienceError, TimeoutError, createResilientFetch, resilienceInfo, type FallbackStore, type StoredResponse } from '../src/index.js'
import { controlledTransport, flush, rejection, statusTransport } from './helpers.js'

/** What the real server saw of one request. */
interface Seen {
  method: string
  path: string
  authorization: string | null
  contentType: string | null
  body: string
}

let server: Server
let origin: string
const seen: Seen[] = []
/** Statuses /flaky answers, in turn (then 200). */
let flaky: number[] = []

async function bodyOf(req: IncomingMessage): Promise<string> {
  let body = ''
  for await (const chunk of req) body += String(chunk)
  return body
}

// A real server on 127.0.0.1: /echo answers what it saw as JSON; /flaky answers the statuses queued in `flaky`.
beforeAll(async () => {
  server = createServer(async (req, res) => {
    const path = new URL(req.url!, 'http://x').pathname
    const entry: Seen = {
      method: req.method!,
      path,
      authorization: req.headers.authorization ?? null,
      contentType: req.headers['content-type'] ?? null,
      body: await bodyOf(req),
    }
    seen.push(entry)
    const status = path === '/flaky' ? (flaky.shift() ?? 200) : 200
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(entry))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})
afterEach(() => {
  seen.length = 0
  flaky = []
})
afterAll(async () => {
  server.closeAllConnections()
  await new Promise<void>((resolve) => server.close(() => resolve()))
})

const URL_A = 'https://a.test/x'

/** A transport that never answers and, like workerd, rejects an aborted fetch with a plain Error (not the signal's reason). */
function plainErrorOnAbort() {
  const signals: AbortSignal[] = []
  const fetch = vi.fn((_input: RequestInfo | URL, init?: RequestInit) => {
    const signal = init!.signal!
    signals.push(signal)
    return new Promise<Response>((_, reject) => {
      signal.addEventListener('abort', () => reject(new Error(`${String(signal.reason)}`)), { once: true })
    })
  })
  return { fetch: fetch as unknown as typeof globalThis.fetch, signals }
}

describe('a deadline we armed is a TimeoutError whatever the transport rejects with (issue 9 item 1, issue 10 defect 4)', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: 1_000_000 })
  })
  afterEach(() => {
    vi.useRealTimers()
  })

  it('attempt deadline: TimeoutError scope attempt, counted, timeout event, breaker failure', async () => {
    const t = plainErrorOnAbort()
    const rf = createResilientFetch({
      fetch: t.fetch,
      timeout: { attempt: 100, total: false },
      retry: false,
      fallback: false,
      breaker: { window: 'consecutive', failureThreshold: 1 },
    })
    const events: string[] = []
    rf.addEventListener('timeout', (e) => {
      events.push(`${e.detail.scope}:${e.detail.timeout}`)
    })
    const p = rejection(rf(URL_A))
    await flush()
    vi.advanceTimersByTime(100)
    const error = await p
    expect(t.signals[0]!.aborted).toBe(true)
    expect(error).toBeInstanceOf(TimeoutError)
    expect(error).toBeInstanceOf(ResilienceError)
    expect(error).toMatchObject({ name: 'TimeoutError', scope: 'attempt', timeout: 100 })
    expect(events).toEqual(['attempt:100'])
    expect(rf.snapshot().totals).toMatchObject({ requests: 1, failures: 1, timeouts: 1 })
    expect(rf.breaker('https://a.test')!.state).toBe('open')
  })

  it('total deadline: TimeoutError scope total', async () => {
    const t = plainErrorOnAbort()
    const rf = createResilientFetch({ fetch: t.fetch, timeout: { attempt: false, total: 250 }, retry: false, fallback: false, breaker: false })
    const p = rejection(rf(URL_A))
    await flush()
    vi.advanceTimersByTime(250)
    const error = await p
    expect(error).toBeInstanceOf(TimeoutError)
    expect(error).toMatchObject({ scope: 'total', timeout: 250 })
    expect(rf.snapshot().totals.timeouts).toBe(1)
  })

  it("the caller's abort before the deadline stays the caller's, even when the deadline passes before the transport settles", async () => {
    let rejectLater: ((e: unknown) => void) | undefined
    const fetch = (() => new Promise<Response>((_, reject) => (rejectLater = reject))) as unknown as typeof globalThis.fetch
    const rf = createResilientFetch({ fetch, timeout: { attempt: 100, total: false }, retry: false, fallback: false, breaker: false })
    const controller = new AbortController()
    const p = rejection(rf(URL_A, { signal: controller.signal }))
    await flush()
    const reason = new Error('mine')
    controller.abort(reason)
    vi.advanceTimersByTime(100)
    rejectLater!(new Error('transport noise'))
    expect(await p).toBe(reason)
    expect(rf.snapshot().totals.timeouts).toBe(0)
  })
})

describe('what throws after the permit and the probe slot were taken gives them back (issue 10 defect 2)', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: 1_000_000 })
  })
  afterEach(() => {
    vi.useRealTimers()
  })

  it("a Request whose body was read rejects with fetch's own TypeError, and holds no permit or timer", async () => {
    const t = statusTransport(200)
    const rf = createResilientFetch({ fetch: t.fetch, fallback: false, bulkhead: { maxConcurrent: 1, maxQueue: 0 } })
    const used = () => new Request(URL_A, { method: 'POST', body: 'x' })
    const consumed = used()
    await consumed.text()
    const fetchOwn = (await rejection(fetch(consumed))) as TypeError
    expect((await rf(URL_A)).status).toBe(200)
    for (let i = 0; i < 3; i++) {
      const consumedAgain = used()
      await consumedAgain.text()
      const error = await rejection(rf(consumedAgain))
      expect(error).toBeInstanceOf(TypeError)
      expect((error as TypeError).message).toBe(fetchOwn.message)
    }
    expect(vi.getTimerCount()).toBe(0)
    expect(rf.snapshot().bulkheads[0]).toMatchObject({ active: 0, queued: 0 })
    expect((await rf(URL_A)).status).toBe(200)
    expect(t.mock).toHaveBeenCalledTimes(2)
  })

  it("an init.signal that is not an AbortSignal rejects with fetch's own TypeError during half-open, and the probe slot stays free", async () => {
    const t = statusTransport(500, 200)
    const rf = createResilientFetch({
      fetch: t.fetch,
      fallback: false,
      retry: false,
      breaker: { window: 'consecutive', failureThreshold: 1, openDuration: 1_000 },
      bulkhead: { maxConcurrent: 1, maxQueue: 0 },
    })
    expect((await rf(URL_A)).status).toBe(500)
    vi.advanceTimersByTime(1_000)
    const notASignal = { aborted: false } as unknown as AbortSignal
    const fetchOwn = (await rejection(fetch(URL_A, { signal: notASignal }))) as TypeError
    const error = await rejection(rf(URL_A, { signal: notASignal }))
    expect(error).toBeInstanceOf(TypeError)
    expect((error as TypeError).message).toBe(fetchOwn.message)
    expect(vi.getTimerCount()).toBe(0)
    expect(t.mock).toHaveBeenCalledTimes(1)
    // The one probe slot is still there: the next call probes and closes the breaker.
    expect((await rf(URL_A)).status).toBe(200)
    expect(rf.breaker('https://a.test')!.state).toBe('closed')
    expect(rf.snapshot().bulkheads[0]).toMatchObject({ active: 0 })
  })

  it("a body read by the caller between attempts: the retry's clone throws, and the call ends with its last real outcome, holding nothing", async () => {
    const t = statusTransport(503, 200)
    const rf = createResilientFetch({ fetch: t.fetch, fallback: false, retry: { limit: 1, backoff: { base: 100, jitter: 'none' } }, bulkhead: { maxConcurrent: 1, maxQueue: 0 } })
    const request = new Request(URL_A, { method: 'PUT', body: 'x' })
    const call = rf(request)
    await flush(20)
    expect(t.mock).toHaveBeenCalledTimes(1)
    await request.text()
    await vi.advanceTimersByTimeAsync(100)
    expect((await call).status).toBe(503)
    expect(t.mock).toHaveBeenCalledTimes(1)
    expect(vi.getTimerCount()).toBe(0)
    expect(rf.snapshot().bulkheads[0]).toMatchObject({ active: 0 })
    expect((await rf(URL_A)).status).toBe(200)
  })

  it('a share whose acquireProbe throws lets the probe through (as a rejecting one does) and leaks nothing', async () => {
    const t = statusTransport(500, 500, 200)
    const released: string[] = []
    const share = {
      connect() {},
      acquireProbe(): Promise<boolean> {
        throw new Error('share down')
      },
      releaseProbe: (key: string) => void released.push(key),
    }
    const rf = createResilientFetch({ fetch: t.fetch, fallback: false, retry: false, share, breaker: { window: 'consecutive', failureThreshold: 1, openDuration: 1_000 }, bulkhead: { maxConcurrent: 1, maxQueue: 0 } })
    expect((await rf(URL_A)).status).toBe(500)
    vi.advanceTimersByTime(1_000)
    expect((await rf(URL_A)).status).toBe(500)
    expect(released).toEqual(['https://a.test'])
    expect(rf.snapshot().bulkheads[0]).toMatchObject({ active: 0 })
    vi.advanceTimersByTime(2_000)
    expect((await rf(URL_A)).status).toBe(200)
    expect(rf.breaker('https://a.test')!.state).toBe('closed')
  })
})

describe('durations past 2^31−1 ms, the longest a timer waits (issue 10 defect 8)', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: 1_000_000 })
  })
  afterEach(() => {
    vi.useRealTimers()
  })

  it.each([
    ['timeout', { timeout: 2 ** 31 }],
    ['timeout.attempt', { timeout: { attempt: 3e9 } }],
    ['timeout.total', { timeout: { total: 2 ** 31 } }],
    ['bulkhead.queueTimeout', { bulkhead: { queueTimeout: 2 ** 31 } }],
    ['retry.backoff.max', { retry: { backoff: { max: 2 ** 32 } } }],
  ] as const)('%s past the bound is refused at creation, naming the option and the bound', (name, options) => {
    const create = () => createResilientFetch({ fetch: statusTransport(200).fetch, ...options } as never)
    expect(create).toThrow(RangeError)
    expect(create).toThrow(new RegExp(`^${name.replaceAll('.', '\\.')} must be at most 2147483647 ms.*, got \\d`))
  })

  it('per call: resilience.timeout past the bound rejects the call, naming the option and the bound', async () => {
    const t = statusTransport(200)
    const rf = createResilientFetch({ fetch: t.fetch, fallback: false })
    const error = await rejection(rf(URL_A, { resilience: { timeout: { total: 2 ** 31 } } }))
    expect(error).toBeInstanceOf(RangeError)
    expect((error as Error).message).toMatch(/^resilience\.timeout\.total must be at most 2147483647 ms/)
    expect(t.mock).not.toHaveBeenCalled()
  })

  it('the bound itself is honoured: an attempt deadline of 2^31−1 ms does not fire at once', async () => {
    const c = controlledTransport()
    const rf = createResilientFetch({ fetch: c.fetch, fallback: false, retry: false, timeout: { attempt: 2 ** 31 - 1, total: false } })
    const p = rf(URL_A)
    await flush()
    vi.advanceTimersByTime(1_000)
    expect(c.pending[0]!.signal!.aborted).toBe(false)
    c.pending[0]!.respond(200)
    expect((await p).status).toBe(200)
  })

  it('a timeout of Infinity means no deadline, as false does', async () => {
    const c = controlledTransport()
    const rf = createResilientFetch({ fetch: c.fetch, fallback: false, retry: false, timeout: { attempt: Infinity, total: Infinity } })
    const p = rf(URL_A)
    await flush()
    expect(c.pending[0]!.signal).toBeUndefined()
    expect(vi.getTimerCount()).toBe(0)
    c.pending[0]!.respond(200)
    expect((await p).status).toBe(200)
  })

  it('maxRetryAfter: Infinity waits a 30-day Retry-After in full instead of retrying at once', async () => {
    const t = statusTransport([503, { 'retry-after': String(30 * 86_400) }], 200)
    const rf = createResilientFetch({ fetch: t.fetch, fallback: false, timeout: false, breaker: { retryAfter: false }, retry: { limit: 1, maxRetryAfter: Infinity } })
    const p = rf(URL_A)
    await vi.advanceTimersByTimeAsync(1_000)
    expect(t.mock).toHaveBeenCalledTimes(1)
    await vi.advanceTimersByTimeAsync(30 * 86_400_000 - 2_000)
    expect(t.mock).toHaveBeenCalledTimes(1)
    await vi.advanceTimersByTimeAsync(1_000)
    expect(t.mock).toHaveBeenCalledTimes(2)
    expect((await p).status).toBe(200)
  })

  it('a Retry-After too long for any number is no retry, even with maxRetryAfter: Infinity', async () => {
    const t = statusTransport([503, { 'retry-after': '9'.repeat(400) }], 200)
    const rf = createResilientFetch({ fetch: t.fetch, fallback: false, timeout: false, breaker: { retryAfter: false }, retry: { limit: 1, maxRetryAfter: Infinity } })
    expect((await rf(URL_A)).status).toBe(503)
    expect(t.mock).toHaveBeenCalledTimes(1)
    expect(vi.getTimerCount()).toBe(0)
  })
})

describe('a Request (or any object with getters or inherited members) as init is read whole, as fetch reads it (issue 10 defect 1)', () => {
  const post = () =>
    new Request(`${origin}/elsewhere`, {
      method: 'POST',
      headers: { authorization: 'Bearer t0ken', 'content-type': 'application/json' },
      body: JSON.stringify({ a: 1 }),
    })
  const expected = { method: 'POST', path: '/echo', authorization: 'Bearer t0ken', contentType: 'application/json', body: '{"a":1}' }

  it('rf(url, request) sends the POST with its Authorization and JSON body, exactly what fetch(url, request) sends', async () => {
    const rf = createResilientFetch({ fallback: false })
    expect(await (await rf(`${origin}/echo`, post())).json()).toEqual(expected)
    expect(await (await fetch(`${origin}/echo`, post())).json()).toEqual(expected)
    expect(seen).toEqual([expected, expected])
  })

  it('with per-call options on the side, and with members inherited or behind getters', async () => {
    const rf = createResilientFetch({ fallback: false })
    const inherited = Object.create({ method: 'PUT', headers: { authorization: 'Basic x' }, body: 'inherited' }) as RequestInit
    expect(await (await rf(`${origin}/echo`, inherited)).json()).toMatchObject({ method: 'PUT', authorization: 'Basic x', body: 'inherited' })
    class Init {
      get method() {
        return 'DELETE'
      }
      get headers() {
        return { authorization: 'Bearer getter' }
      }
    }
    const withGetters = Object.assign(new Init(), { resilience: { retry: false } }) as RequestInit
    expect(await (await rf(`${origin}/echo`, withGetters)).json()).toMatchObject({ method: 'DELETE', authorization: 'Bearer getter' })
  })
})

describe('a one-shot body (async iterable, Node Readable, ReadableStream) is never retried (issue 10 defect 5)', () => {
  const retry = { limit: 2, backoff: { base: 1, jitter: 'none' as const } }
  async function* chunks() {
    yield new TextEncoder().encode('one,')
    yield new TextEncoder().encode('two')
  }
  const bodies: [string, () => unknown][] = [
    ['an async iterable', () => chunks()],
    ['a Node Readable', () => Readable.from(['one,', 'two'])],
    ['a ReadableStream', () => new Blob(['one,two']).stream()],
  ]

  it.each(bodies)('%s: a PUT answered 503 ends with the 503, sent once, whole', async (_name, body) => {
    const rf = createResilientFetch({ fallback: false, retry })
    flaky = [503, 503]
    const response = await rf(`${origin}/flaky`, { method: 'PUT', body: body() as BodyInit, duplex: 'half' } as RequestInit)
    expect(response.status).toBe(503)
    expect(seen).toEqual([expect.objectContaining({ method: 'PUT', body: 'one,two' })])
    expect(rf.snapshot().totals.retries).toBe(0)
  })

  it('a replayable body (a string) is still retried and resent whole', async () => {
    const rf = createResilientFetch({ fallback: false, retry })
    flaky = [503]
    const response = await rf(`${origin}/flaky`, { method: 'PUT', body: 'one,two' })
    expect(response.status).toBe(200)
    expect(seen.map((s) => s.body)).toEqual(['one,two', 'one,two'])
  })
})

describe('relative URLs resolve against the document base URL, as fetch resolves them (issue 10 defect 9)', () => {
  let page: Window
  beforeEach(() => {
    // A page on one origin whose <base href> points at another.
    page = new Window({ url: 'https://app.example/page/index.html' })
    page.document.head.innerHTML = '<base href="https://api.example/v2/">'
    vi.stubGlobal('document', page.document)
    vi.stubGlobal('location', page.location)
  })
  afterEach(async () => {
    vi.unstubAllGlobals()
    await page.happyDOM.close()
  })

  it('the key and the fallback copy are the base origin\'s, and a failure is answered with that copy, not the page origin\'s', async () => {
    const stored = new Map<string, StoredResponse>()
    const store: FallbackStore = {
      get: async (key) => stored.get(key),
      put: async (key, entry) => void stored.set(key, entry),
      delete: async (key) => void stored.delete(key),
      clear: async () => stored.clear(),
    }
    const t = statusTransport(200, 503)
    const rf = createResilientFetch({ fetch: t.fetch, retry: false, fallback: { store } })
    expect((await rf('items?page=1')).status).toBe(200)
    expect(rf.snapshot().breakers.map((b) => b.key)).toEqual(['https://api.example'])
    expect(rf.breaker('https://api.example')).toBeDefined()
    await vi.waitFor(() => expect(stored.size).toBe(1))
    expect([...stored.keys()][0]).toContain('https://api.example/v2/items?page=1')
    const fallback = await rf('items?page=1')
    expect(fallback.status).toBe(200)
    expect(resilienceInfo(fallback)).toMatchObject({ source: 'fallback', key: 'https://api.example' })
    expect(rf.snapshot().totals.fallbacks).toBe(1)
  })

  it('without a document (a worker), the location is the base', async () => {
    vi.stubGlobal('document', undefined)
    const t = statusTransport(200)
    const rf = createResilientFetch({ fetch: t.fetch, fallback: false })
    await rf('/items')
    expect(rf.snapshot().breakers.map((b) => b.key)).toEqual(['https://app.example'])
  })
})
