/**
 * redirect: 'error' and 'manual' against a real HTTP server on 127.0.0.1 (real sockets), and against
 * transports of our own where a runtime differs (a browser's opaque redirect, a runtime that refuses
 * 'error' as workerd does). A redirect is the upstream's answer: never an outage.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, beforeEach, describe, expect, it, onTestFinished, vi } from 'vitest'
import { createResilientFetch, memoryStore, resilienceInfo, ResilienceError, type ResilientFetchOptions } from '../src/index.js'
import { rejection } from './helpers.js'

let server: Server
let origin: string
/** /data answers 200 'fresh' until `moved`, then 302 to /login (an expired session); /status/<n> answers n without a Location. */
let moved = false
/** The bodies the server read, in order. */
let bodies: string[] = []

beforeAll(async () => {
  server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => {
      bodies.push(Buffer.concat(chunks).toString())
      if (req.url!.startsWith('/status/')) return void res.writeHead(Number(req.url!.slice(8))).end('no location')
      if (req.url === '/login' || !moved) return void res.writeHead(200, { 'content-type': 'text/plain' }).end(req.url === '/login' ? 'login' : 'fresh')
      res.writeHead(req.method === 'GET' ? 302 : 307, { location: '/login' }).end('moved')
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})

afterAll(async () => {
  server.closeAllConnections()
  await new Promise<void>((resolve) => server.close(() => resolve()))
})

beforeEach(() => {
  moved = false
  bodies = []
})

/** An instance whose transport is the real fetch, recording the redirect mode each request was sent with. */
function make(options: Partial<ResilientFetchOptions> = {}) {
  const sent: RequestRedirect[] = []
  const transport: typeof fetch = (input, init) => {
    // Read, not built into a Request: that would take a stream body.
    sent.push(init?.redirect ?? (input instanceof Request ? input.redirect : 'follow'))
    return fetch(input, init)
  }
  const rf = createResilientFetch({ fetch: transport, retry: { limit: 2, backoff: { base: 1 } }, breaker: { window: { type: 'count', size: 10 }, failureThreshold: 2 }, fallback: { store: memoryStore() }, ...options })
  const events: string[] = []
  for (const type of ['success', 'failure', 'retry', 'fallback'] as const) rf.addEventListener(type, (e) => events.push(`${type}${'status' in e.detail ? ` ${e.detail.status}` : ''}`))
  const breaker = () => {
    const { state, calls, failures } = rf.snapshot().breakers[0]!
    return { state, calls, failures }
  }
  return { rf, sent, events, breaker }
}

describe("redirect: 'error'", () => {
  it('a redirect rejects with a TypeError, sent once; the breaker counts a success; the good copy is not served', async () => {
    const { rf, sent, events, breaker } = make()
    expect(await (await rf(`${origin}/data`)).text()).toBe('fresh')
    moved = true
    for (let i = 0; i < 3; i++) {
      const error = await rejection(rf(`${origin}/data`, { redirect: 'error' }))
      expect(error).toBeInstanceOf(TypeError)
      expect(error).not.toBeInstanceOf(ResilienceError)
      expect((error as Error).message).toBe(`redirect: 'error' refused a redirect from ${origin}/data`)
    }
    // Sent as 'manual', once per call: the 302 is an answer, never retried.
    expect(sent).toEqual(['follow', 'manual', 'manual', 'manual'])
    expect(events).toEqual(['success 200', 'success 302', 'success 302', 'success 302'])
    expect(breaker()).toEqual({ state: 'closed', calls: 4, failures: 0 })
    expect(rf.snapshot().totals).toMatchObject({ requests: 4, successes: 4, failures: 0, retries: 0, fallbacks: 0 })
    // What fetch itself does with the same request.
    expect(await rejection(fetch(`${origin}/data`, { redirect: 'error' }))).toBeInstanceOf(TypeError)
  })

  it("the mode on a Request: a PUT with a body is sent once, as 'manual', with its body", async () => {
    const { rf, sent, breaker } = make()
    moved = true
    const request = new Request(`${origin}/data`, { method: 'PUT', body: 'payload', redirect: 'error' })
    expect(await rejection(rf(request))).toBeInstanceOf(TypeError)
    expect([sent, bodies]).toEqual([['manual'], ['payload']])
    expect(breaker()).toMatchObject({ calls: 1, failures: 0 })
    // init's mode wins over the Request's, as in fetch: followed to the login page.
    expect(await (await rf(new Request(`${origin}/data`, { redirect: 'error' }), { redirect: 'follow' })).text()).toBe('login')
  })

  it('a stream body (never retried anyway) is sent once and the redirect still rejects', async () => {
    const { rf, sent, breaker } = make()
    moved = true
    const body = new Blob(['streamed']).stream()
    expect(await rejection(rf(`${origin}/data`, { method: 'POST', body, redirect: 'error', duplex: 'half' } as RequestInit))).toBeInstanceOf(TypeError)
    expect([sent, bodies]).toEqual([['manual'], ['streamed']])
    expect(breaker()).toMatchObject({ calls: 1, failures: 0 })
  })

  it('a custom isFailure never judges the refused redirect: still a success, no copy served', async () => {
    const { rf, breaker, events } = make({ isFailure: ({ response }) => !response?.ok })
    expect((await rf(`${origin}/data`)).status).toBe(200)
    moved = true
    expect(await rejection(rf(`${origin}/data`, { redirect: 'error' }))).toBeInstanceOf(TypeError)
    expect(events).toEqual(['success 200', 'success 302'])
    expect(breaker()).toMatchObject({ state: 'closed', failures: 0 })
    // The same rule still judges a 302 the caller sees (redirect: 'manual'): the owner's choice.
    expect((await rf(`${origin}/data`, { redirect: 'manual', resilience: { fallback: false } })).status).toBe(302)
    expect(breaker()).toMatchObject({ failures: 1 })
  })

  it('a redirect status without a Location rejects too, and any other 3xx resolves: as fetch does', async () => {
    const { rf, breaker } = make()
    /** How a call ends: the status it resolved with, or the kind of error it rejected with. */
    const end = (call: Promise<Response>) => call.then((r) => (r.body?.cancel(), r.status), (e: unknown) => (e instanceof TypeError ? 'TypeError' : e))
    const statuses = [300, 301, 302, 303, 304, 305, 306, 307, 308]
    const ours: unknown[] = []
    const theirs: unknown[] = []
    for (const status of statuses) {
      ours.push(await end(rf(`${origin}/status/${status}`, { redirect: 'error' })))
      theirs.push(await end(fetch(`${origin}/status/${status}`, { redirect: 'error' })))
    }
    expect(ours).toEqual(theirs)
    expect(ours).toEqual([300, 'TypeError', 'TypeError', 'TypeError', 304, 305, 306, 'TypeError', 'TypeError'])
    expect(breaker()).toEqual({ state: 'closed', calls: 9, failures: 0 })
  })

  it('a network error is still a failure, retried', async () => {
    let calls = 0
    const rf = createResilientFetch({
      fetch: () => (calls++, Promise.reject(new TypeError('fetch failed'))),
      retry: { limit: 2, backoff: { base: 1 } },
      fallback: false,
    })
    const error = await rejection(rf('http://a.test/x', { redirect: 'error' }))
    expect([error instanceof TypeError && error.message, calls]).toEqual(['fetch failed', 3])
    expect(rf.snapshot().breakers[0]).toMatchObject({ failures: 3 })
  })

  it("a browser's opaque redirect (status 0, no headers) rejects, a success for the breaker", async () => {
    const opaque = () => Object.defineProperty(Response.error(), 'type', { value: 'opaqueredirect' })
    const rf = createResilientFetch({ fetch: async () => opaque(), fallback: false })
    expect(await rejection(rf('http://a.test/x', { redirect: 'error' }))).toBeInstanceOf(TypeError)
    expect(rf.snapshot().breakers[0]).toMatchObject({ calls: 1, failures: 0 })
  })

  it("the refused redirect's body is cancelled: nobody will read it", async () => {
    const cancelled = vi.fn()
    const body = new ReadableStream({ cancel: cancelled })
    const rf = createResilientFetch({ fetch: async () => new Response(body, { status: 307, headers: { location: '/elsewhere' } }), fallback: false })
    expect(await rejection(rf('http://a.test/x', { redirect: 'error' }))).toBeInstanceOf(TypeError)
    expect(cancelled).toHaveBeenCalledTimes(1)
  })

  it("where the runtime refuses 'error' (workerd), the call is not rewritten: it rejects as that fetch does, nothing judged", async () => {
    class Strict extends Request {
      constructor(input: RequestInfo | URL, init?: RequestInit) {
        if (init?.redirect === 'error') throw new TypeError('Invalid redirect value')
        super(input, init)
      }
    }
    vi.stubGlobal('Request', Strict)
    onTestFinished(() => void vi.unstubAllGlobals())
    let calls = 0
    const rf = createResilientFetch({ fetch: async (input, init) => (calls++, new Strict(input, init), new Response('sent')), fallback: false })
    const error = await rejection(rf('http://a.test/x', { redirect: 'error' }))
    expect([error instanceof TypeError && error.message, calls]).toEqual(['Invalid redirect value', 1])
    expect(rf.snapshot().breakers[0]).toMatchObject({ calls: 0, failures: 0 })
  })
})

describe("redirect: 'manual'", () => {
  it('the 3xx resolves as a normal answer: once, a success, never replaced by the good copy', async () => {
    const { rf, sent, events, breaker } = make()
    expect((await rf(`${origin}/data`)).status).toBe(200)
    moved = true
    const response = await rf(`${origin}/data`, { redirect: 'manual' })
    expect([response.status, response.headers.get('location'), await response.text()]).toEqual([302, '/login', 'moved'])
    expect(resilienceInfo(response)).toMatchObject({ source: 'network', attempts: 1 })
    expect(sent).toEqual(['follow', 'manual'])
    expect(events).toEqual(['success 200', 'success 302'])
    expect(breaker()).toEqual({ state: 'closed', calls: 2, failures: 0 })
  })
})

describe('coalescing', () => {
  it("identical GETs with redirect: 'manual' or 'error' never share a browser's opaque redirect: it cannot be copied (status 0)", async () => {
    const opaque = () => Object.defineProperty(Response.error(), 'type', { value: 'opaqueredirect' })
    let calls = 0
    const rf = createResilientFetch({ fetch: async () => (calls++, opaque()), coalesce: true, fallback: false })
    const manual = await Promise.all([rf('http://a.test/x', { redirect: 'manual' }), rf('http://a.test/x', { redirect: 'manual' })])
    expect(manual.map((r) => [r.status, r.type])).toEqual([[0, 'opaqueredirect'], [0, 'opaqueredirect']])
    const refused = await Promise.allSettled([rf('http://a.test/x', { redirect: 'error' }), rf('http://a.test/x', { redirect: 'error' })])
    expect(refused.map((o) => o.status === 'rejected' && o.reason instanceof TypeError)).toEqual([true, true])
    expect([calls, rf.snapshot().totals.coalesced]).toEqual([4, 0])
  })
})
