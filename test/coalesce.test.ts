import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { resilienceInfo } from '../src/info.js'
import { TimeoutError } from '../src/errors.js'
import { MAX_LAG_BYTES } from '../src/stages/coalesce.js'
import { LOST_AFTER } from '../src/deadline.js'
import { coalescingFetch } from './coalesce-helpers.js'

/** A server on 127.0.0.1 that counts requests and holds each one until the test releases it. */
interface Held {
  req: IncomingMessage
  res: ServerResponse
  /** Resolves when the client closed the socket before the response ended. */
  closedEarly: Promise<void>
}

let server: Server
let origin: string
let held: Held[] = []
let waiters: (() => void)[] = []

beforeAll(async () => {
  server = createServer((req, res) => {
    const closedEarly = new Promise<void>((resolve) => res.on('close', () => !res.writableFinished && resolve()))
    held.push({ req, res, closedEarly })
    for (const wake of waiters.splice(0)) wake()
  })
  server.keepAliveTimeout = 100
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})
afterEach(() => {
  vi.useRealTimers()
  for (const { res } of held) if (!res.writableEnded) res.destroy()
  held = []
})
afterAll(() => {
  server.closeAllConnections()
  server.close()
})

/** Resolves once the server holds `n` requests in all (bounded by the test's timeout). */
async function requests(n: number): Promise<void> {
  while (held.length < n) await new Promise<void>((resolve) => waiters.push(resolve))
}

/** Lets pending callbacks run, so a request that was going to be sent has reached the server. */
const settle = () => new Promise((resolve) => setTimeout(resolve, 20))

function bytes(n: number, seed = 7): Buffer {
  const body = Buffer.alloc(n)
  for (let i = 0; i < n; i++) body[i] = (i * 31 + seed) & 0xff
  return body
}

function answer(h: Held, body: Buffer | string = 'ok', status = 200): void {
  h.res.writeHead(status, { 'content-type': 'application/octet-stream', 'content-length': String(Buffer.byteLength(body)) })
  h.res.end(body)
}

describe('coalescing against a real server on 127.0.0.1', () => {
  it('10 concurrent identical GETs send 1 request; each caller reads its own full 100 KB body', async () => {
    const { rf, totals } = coalescingFetch()
    const body = bytes(100 * 1024)
    const calls = Array.from({ length: 10 }, () => rf(`${origin}/item`, { headers: { accept: 'application/json' } }))
    await requests(1)
    answer(held[0]!, body)
    const responses = await Promise.all(calls)
    // Read in reverse order, one after the other: no caller depends on another reading.
    for (const response of [...responses].reverse()) expect(Buffer.from(await response.arrayBuffer()).equals(body)).toBe(true)
    await settle()
    expect(held).toHaveLength(1)
    expect(new Set(responses).size).toBe(10)
    expect(responses.map((r) => resilienceInfo(r)?.coalesced === true)).toEqual([false, ...Array(9).fill(true)])
    expect(responses.every((r) => resilienceInfo(r)?.attempts === 1 && r.url === `${origin}/item`)).toBe(true)
    expect(totals()).toMatchObject({ requests: 10, coalesced: 9, successes: 10 })
  })

  it("each caller's own Response has the type fetch gives ('basic' in Node), not a constructed Response's 'default'", async () => {
    const { rf, totals } = coalescingFetch()
    const calls = [rf(`${origin}/typed`), rf(`${origin}/typed`)]
    await requests(1)
    answer(held[0]!)
    const responses = await Promise.all(calls)
    const direct = fetch(`${origin}/typed`)
    await requests(2)
    answer(held[1]!)
    const { type } = await direct
    expect(type).toBe('basic')
    expect(responses.map((r) => r.type)).toEqual([type, type])
    expect(totals().coalesced).toBe(1)
  })

  // fetch decodes a reason phrase as UTF-8 (a Latin-1 'Ü' becomes U+FFFD) and takes any status up to 999: new Response refuses both.
  it.each([
    [200, 'Ünicode'],
    [999, 'Custom'],
  ])('a status %i with the reason phrase %j reaches every caller as fetch gives it, body and all', async (status, reason) => {
    const { rf } = coalescingFetch({ retry: false })
    const calls = [rf(`${origin}/odd`), rf(`${origin}/odd`)]
    await requests(1)
    held[0]!.res.writeHead(status, reason).end('body')
    const direct = fetch(`${origin}/odd`)
    await requests(2)
    held[1]!.res.writeHead(status, reason).end('body')
    const theirs = await direct
    await theirs.text()
    const responses = await Promise.all(calls)
    const head = (r: Response) => [r.status, r.statusText, r.ok, r.type, r.url]
    expect(responses.map(head)).toEqual([head(theirs), head(theirs)])
    expect(await Promise.all(responses.map((r) => r.text()))).toEqual(['body', 'body'])
  })

  it("each caller's headers read as fetch's, a repeated field's empty value and all ('x, ', not 'x,')", async () => {
    const { rf } = coalescingFetch({ retry: false })
    // Repeated fields, fetch combines them: 'x' and '' read 'x, ', two empty ones ', ', '' and 'z' ', z'.
    const fields = ['X-A', 'x', 'X-A', '', 'X-D', '', 'X-D', '', 'X-C', '', 'X-C', 'z', 'Set-Cookie', 'a=1', 'Set-Cookie', 'b=2', 'Content-Length', '4']
    const calls = [rf(`${origin}/fields`), rf(`${origin}/fields`)]
    await requests(1)
    held[0]!.res.writeHead(200, fields).end('body')
    const direct = fetch(`${origin}/fields`)
    await requests(2)
    held[1]!.res.writeHead(200, fields).end('body')
    const theirs = await direct
    await theirs.text()
    const headers = (r: Response) => [...r.headers].filter(([name]) => !['date', 'connection', 'keep-alive'].includes(name))
    expect(theirs.headers.get('x-a')).toBe('x, ')
    const responses = await Promise.all(calls)
    expect(responses.map(headers)).toEqual([headers(theirs), headers(theirs)])
    expect(responses.map((r) => r.headers.getSetCookie())).toEqual([theirs.headers.getSetCookie(), theirs.headers.getSetCookie()])
    expect(await Promise.all(responses.map((r) => r.text()))).toEqual(['body', 'body'])
  })

  // Node's fetch keeps a field's trailing whitespace ('y \t '); Headers trims a value's edges as it is set, in every
  // way there is to set one (append, set, the constructor, a copy of Headers): no Response built here can read so.
  it("a field's own trailing whitespace, which no Headers can be set to, reads trimmed in a caller's copy", async () => {
    const { rf } = coalescingFetch({ retry: false })
    const calls = [rf(`${origin}/edges`), rf(`${origin}/edges`)]
    await requests(1)
    held[0]!.res.writeHead(200, ['X-B', 'y \t ', 'Content-Length', '4']).end('body')
    const direct = fetch(`${origin}/edges`)
    await requests(2)
    held[1]!.res.writeHead(200, ['X-B', 'y \t ', 'Content-Length', '4']).end('body')
    const theirs = await direct
    await theirs.text()
    expect(theirs.headers.get('x-b')).toBe('y \t ')
    const [appended, set] = [new Headers(), new Headers()]
    appended.append('x-b', 'y \t ')
    set.set('x-b', 'y \t ')
    const built = [appended, set, new Headers([['x-b', 'y \t ']]), new Headers(theirs.headers), new Response(null, theirs).headers]
    expect(built.map((h) => h.get('x-b'))).toEqual(['y', 'y', 'y', 'y', 'y'])
    const responses = await Promise.all(calls)
    expect(responses.map((r) => r.headers.get('x-b'))).toEqual(['y', 'y'])
  })

  const exclusions: [string, RequestInit & { resilience?: { coalesce?: boolean } }][] = [
    ['a POST', { method: 'POST', body: 'x' }],
    ['an Authorization header', { headers: { authorization: 'Bearer t' } }],
    ['a Cookie header', { headers: { cookie: 'a=1' } }],
    ["cache: 'no-store'", { cache: 'no-store' }],
    ["cache: 'reload'", { cache: 'reload' }],
    ['resilience.coalesce: false', { resilience: { coalesce: false } }],
    ['another header value', { headers: { accept: 'text/html' } }],
  ]
  for (const [what, init] of exclusions) {
    it(`a call with ${what} sends its own request while an identical GET is in flight`, async () => {
      const { rf, totals } = coalescingFetch()
      const first = rf(`${origin}/x`, { headers: { accept: 'application/json' } })
      await requests(1)
      const second = rf(`${origin}/x`, init.headers === undefined ? { ...init, headers: { accept: 'application/json' } } : init)
      await requests(2)
      for (const h of held) answer(h, h.req.method ?? '')
      expect(await (await first).text()).toBe('GET')
      await (await second).text()
      expect(totals().coalesced).toBe(0)
    })
  }

  it('a different URL, and a call started after the first settled, are new requests', async () => {
    const { rf, totals } = coalescingFetch()
    const a = rf(`${origin}/a`)
    const b = rf(`${origin}/b`)
    await requests(2)
    for (const h of held) answer(h, h.req.url ?? '')
    expect([await (await a).text(), await (await b).text()]).toEqual(['/a', '/b'])
    const again = rf(`${origin}/a`)
    await requests(3)
    answer(held[2]!, 'again')
    expect(await (await again).text()).toBe('again')
    expect(totals().coalesced).toBe(0)
  })

  it("one caller's abort rejects that caller only: the request goes on and the others read the body", async () => {
    const { rf } = coalescingFetch()
    const controllers = [new AbortController(), new AbortController(), new AbortController()]
    const calls = controllers.map((c) => rf(`${origin}/slow`, { signal: c.signal }))
    await requests(1)
    const reason = new Error('caller 0 left')
    controllers[0]!.abort(reason)
    await expect(calls[0]).rejects.toBe(reason)
    let closed = false
    void held[0]!.closedEarly.then(() => (closed = true))
    await settle()
    expect(closed).toBe(false)
    answer(held[0]!, 'shared')
    expect(await (await calls[1]!).text()).toBe('shared')
    expect(await (await calls[2]!).text()).toBe('shared')
    const later = rf(`${origin}/slow`)
    await requests(2)
    answer(held[1]!, 'new request')
    expect(await (await later).text()).toBe('new request')
  })

  it('when every caller aborts, the shared request is aborted: the server sees its socket close', async () => {
    const { rf } = coalescingFetch()
    const controllers = [new AbortController(), new AbortController(), new AbortController()]
    const calls = controllers.map((c) => rf(`${origin}/slow`, { signal: c.signal }))
    await requests(1)
    controllers.forEach((c, i) => c.abort(new Error(`caller ${i} left`)))
    const results = await Promise.allSettled(calls)
    expect(results.map((r) => (r.status === 'rejected' ? (r.reason as Error).message : 'resolved'))).toEqual(['caller 0 left', 'caller 1 left', 'caller 2 left'])
    await held[0]!.closedEarly
    // Nothing left in flight: the next identical call sends its own request.
    const later = rf(`${origin}/slow`)
    await requests(2)
    answer(held[1]!, 'new request')
    expect(await (await later).text()).toBe('new request')
  })

  it(`a caller that never reads does not stall the others; past ${MAX_LAG_BYTES} bytes behind, its body errors`, async () => {
    const { rf } = coalescingFetch()
    const body = bytes(3 * MAX_LAG_BYTES, 3)
    const [reader, idle] = [rf(`${origin}/big`), rf(`${origin}/big`)]
    await requests(1)
    answer(held[0]!, body)
    const [fast, slow] = await Promise.all([reader, idle])
    expect(Buffer.from(await fast!.arrayBuffer()).equals(body)).toBe(true)
    await expect(slow!.arrayBuffer()).rejects.toThrow(RangeError)
  })

  it('a caller that reads late, within the bound, still gets the whole body', async () => {
    const { rf } = coalescingFetch()
    const body = bytes(MAX_LAG_BYTES / 2, 5)
    const [first, second] = [rf(`${origin}/half`), rf(`${origin}/half`)]
    await requests(1)
    answer(held[0]!, body)
    const [a, b] = await Promise.all([first, second])
    expect(Buffer.from(await a!.arrayBuffer()).equals(body)).toBe(true)
    await settle()
    expect(Buffer.from(await b!.arrayBuffer()).equals(body)).toBe(true)
  })

  it("a caller's abort after the headers errors its body only", async () => {
    const { rf } = coalescingFetch()
    const controller = new AbortController()
    const [mine, theirs] = [rf(`${origin}/body`, { signal: controller.signal }), rf(`${origin}/body`)]
    await requests(1)
    held[0]!.res.writeHead(200, { 'content-type': 'text/plain' })
    held[0]!.res.write('part one,')
    const [a, b] = await Promise.all([mine, theirs])
    const reason = new Error('gone')
    controller.abort(reason)
    await expect(a!.text()).rejects.toBe(reason)
    held[0]!.res.end('part two')
    expect(await b!.text()).toBe('part one,part two')
  })

  it("an identical GET joins a half-open breaker's probe instead of being refused, and is not counted by the breaker", async () => {
    // Only the clock is fake: the server and the sockets run in real time.
    vi.useFakeTimers({ toFake: ['Date'] })
    const { rf, totals } = coalescingFetch({ breaker: { window: 'consecutive', failureThreshold: 1, openDuration: 1_000 } })
    const failing = rf(`${origin}/probe`)
    await requests(1)
    answer(held[0]!, 'down', 503)
    expect((await failing).status).toBe(503)
    await expect(rf(`${origin}/probe`)).rejects.toMatchObject({ name: 'CircuitOpenError' })
    vi.setSystemTime(Date.now() + 1_000)
    const [probe, joined] = [rf(`${origin}/probe`), rf(`${origin}/probe`)]
    await requests(2)
    answer(held[1]!, 'up')
    expect([await (await probe).text(), await (await joined).text()]).toEqual(['up', 'up'])
    expect(totals()).toMatchObject({ requests: 4, coalesced: 1, rejected: 1 })
    await settle()
    expect(held).toHaveLength(2)
  })

  it('retries belong to the shared call, and events fire once per network attempt, not per caller', async () => {
    const { rf, totals, seen } = coalescingFetch({ retry: { limit: 1, backoff: { base: 1, max: 1 }, budget: false } })
    const calls = Array.from({ length: 5 }, () => rf(`${origin}/flaky`))
    await requests(1)
    answer(held[0]!, 'busy', 503)
    await requests(2)
    answer(held[1]!, 'fine')
    const responses = await Promise.all(calls)
    expect(await Promise.all(responses.map((r) => r.text()))).toEqual(Array(5).fill('fine'))
    expect(responses.map((r) => resilienceInfo(r)?.attempts)).toEqual(Array(5).fill(2))
    expect(seen.map((e) => e.type)).toEqual(['failure', 'retry', 'success'])
    expect(totals()).toMatchObject({ requests: 5, coalesced: 4, retries: 1, successes: 5 })
  })

  it('the fallback belongs to the shared call: one stored copy is served to every caller, each with its own body', async () => {
    const { rf, totals, seen } = coalescingFetch({ fallback: { store: 'memory' }, retry: false })
    const good = rf(`${origin}/cached`)
    await requests(1)
    answer(held[0]!, 'stored body')
    expect(await (await good).text()).toBe('stored body')
    await settle() // the copy is stored off the hot path
    const calls = Array.from({ length: 3 }, () => rf(`${origin}/cached`))
    await requests(2)
    answer(held[1]!, 'down', 503)
    const responses = await Promise.all(calls)
    expect(await Promise.all(responses.map((r) => r.text()))).toEqual(Array(3).fill('stored body'))
    expect(responses.map((r) => [resilienceInfo(r)?.source, resilienceInfo(r)?.coalesced === true])).toEqual([['fallback', false], ['fallback', true], ['fallback', true]])
    expect(responses.every((r) => r.headers.get('x-resilient-source') === 'fallback')).toBe(true)
    expect(seen.filter((e) => e.type === 'fallback')).toHaveLength(1)
    // One per call served the copy (API.md: totals count calls), though the event fired once.
    expect(totals()).toMatchObject({ requests: 4, coalesced: 2, fallbacks: 3 })
  })

  it("a lone caller keeps fetch's response; its abort after the headers still reaches the body and closes the socket", async () => {
    const { rf } = coalescingFetch()
    const controller = new AbortController()
    const call = rf(`${origin}/alone`, { signal: controller.signal })
    await requests(1)
    held[0]!.res.writeHead(200, { 'content-type': 'text/plain' })
    held[0]!.res.write('part one,')
    const response = await call
    expect(resilienceInfo(response)?.coalesced).toBeUndefined()
    controller.abort(new Error('gone'))
    // As with fetch itself (the platform's own abort error on the body: Node's undici gives an AbortError).
    await expect(response.text()).rejects.toThrow()
    await held[0]!.closedEarly
  })

  it('hedges belong to the shared call: 5 callers, one request and one hedge, the loser closed once', async () => {
    // Each request says when it was sent: under load the hedge may reach the server before the first request.
    let sent = 0
    const fetch: typeof globalThis.fetch = (input, init) => {
      const headers = new Headers(init?.headers)
      headers.set('x-sent', String(++sent))
      return globalThis.fetch(input, { ...init, headers })
    }
    const { rf, totals } = coalescingFetch({ fetch, hedge: { delay: 20, budget: false }, retry: false })
    const calls = Array.from({ length: 5 }, () => rf(`${origin}/tail`))
    await requests(2)
    const [first, hedge] = ['1', '2'].map((n) => held.find((h) => h.req.headers['x-sent'] === n)!)
    answer(hedge!, 'hedge won')
    const responses = await Promise.all(calls)
    expect(await Promise.all(responses.map((r) => r.text()))).toEqual(Array(5).fill('hedge won'))
    expect(responses.map((r) => resilienceInfo(r)?.hedged)).toEqual(Array(5).fill(true))
    await first!.closedEarly
    expect(totals()).toMatchObject({ requests: 5, coalesced: 4, hedges: 1 })
    await settle()
    expect(held).toHaveLength(2)
  })
})

describe('a shared response no copy can be made of', () => {
  it("rejects every caller with the error (none waits for good) when the transport's Response-like cannot be copied", async () => {
    // A transport of the user's own may answer with a Response-like whose headers read but cannot build a new Response.
    const headers = { get: () => null, has: () => false, [Symbol.iterator]: () => { throw new TypeError('these headers cannot be copied') } }
    const transport = vi.fn(async () => Object.defineProperty(new Response('body'), 'headers', { value: headers }))
    const { rf } = coalescingFetch({ retry: false, fetch: transport })
    const calls = [rf('https://a.test/odd'), rf('https://a.test/odd')]
    const settled = await Promise.allSettled(calls)
    expect(transport).toHaveBeenCalledOnce()
    expect(settled.map((s) => s.status)).toEqual(['rejected', 'rejected'])
    expect(settled.map((s) => (s as PromiseRejectedResult).reason.message)).toEqual(['these headers cannot be copied', 'these headers cannot be copied'])
  })

  it('cancels its body, so its connection is let go (before, the copies had locked it first: nothing read it, nothing cancelled it)', async () => {
    let cancelled = false
    const body = new ReadableStream({ cancel: () => void (cancelled = true) })
    const headers = { get: () => null, has: () => false, [Symbol.iterator]: () => { throw new TypeError('these headers cannot be copied') } }
    const { rf } = coalescingFetch({ retry: false, fetch: async () => Object.defineProperty(new Response(body), 'headers', { value: headers }) })
    await Promise.allSettled([rf('https://a.test/odd'), rf('https://a.test/odd')])
    expect(cancelled).toBe(true)
  })
})

describe('a joined caller whose shared request is dropped unanswered (a Worker request context that ended)', () => {
  /** The first request never settles, even when aborted (as workerd drops the fetch of a request that ended); the others answer. */
  function dropping() {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] })
    const sent: string[] = []
    const fetch = (input: RequestInfo | URL) => (sent.push(String(input)), sent.length === 1 ? new Promise<never>(() => {}) : Promise.resolve(new Response(`answer ${sent.length}`)))
    const { rf, totals } = coalescingFetch({ retry: false, timeout: { attempt: 1_000, total: 2_000 }, fetch })
    const watch = (promise: Promise<Response>) => {
      const state: { value?: unknown } = {}
      promise.then((r) => (state.value = r), (e: unknown) => (state.value = e))
      return state
    }
    return { rf, totals, sent, watch }
  }

  it(`gives up ${LOST_AFTER} ms past the shared request's total deadline: past its own, with our TimeoutError, not hanging for good`, async () => {
    const { rf, totals, sent, watch } = dropping()
    void rf('https://dropped.test/me')
    await vi.advanceTimersByTimeAsync(100)
    const joined = watch(rf('https://dropped.test/me'))
    await vi.advanceTimersByTimeAsync(2_000 + LOST_AFTER - 110)
    expect(joined.value).toBeUndefined()
    await vi.advanceTimersByTimeAsync(20)
    expect(joined.value).toBeInstanceOf(TimeoutError)
    expect([(joined.value as TimeoutError).scope, (joined.value as TimeoutError).timeout]).toEqual(['total', 2_000])
    expect(sent).toHaveLength(1)
    expect(totals().coalesced).toBe(1)
  })

  it('one that joined later sends its own request then, within its own deadline; and nobody joins that request after', async () => {
    const { rf, sent, watch } = dropping()
    void rf('https://dropped.test/me')
    await vi.advanceTimersByTimeAsync(1_500)
    const joined = watch(rf('https://dropped.test/me'))
    await vi.advanceTimersByTimeAsync(2_000 + LOST_AFTER - 1_500 - 10)
    expect([joined.value, sent.length]).toEqual([undefined, 1])
    await vi.advanceTimersByTimeAsync(20)
    expect(sent).toHaveLength(2)
    expect(await (joined.value as Response).text()).toBe('answer 2')
    // Before, every identical GET joined the lost request for good (its first caller never left) and timed out.
    const later = await rf('https://dropped.test/me')
    expect(await later.text()).toBe('answer 3')
  })
})
