/**
 * README "Coalescing identical requests": the rules of who joins whom, and what a joined call shares, held against a
 * real node:http server on 127.0.0.1 (Node's own fetch, real sockets). The server holds every response until the test
 * releases it, so "in flight" and "has its headers" are states the test sets, not moments it waits for.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { Agent } from 'undici'
import { afterEach, describe, expect, it } from 'vitest'
import { createResilientFetch, resilienceInfo } from '../src/index.js'
import type { ResilientFetchOptions } from '../src/types.js'
import { tailServer } from './tail-server.js'

let server: Awaited<ReturnType<typeof tailServer>> | undefined
let held: { req: IncomingMessage; res: ServerResponse }[] = []
afterEach(async () => {
  for (const { res } of held) if (!res.writableEnded) res.destroy()
  held = []
  await server?.close()
  server = undefined
})

/** A server that holds each request until the test answers it. */
async function holdingServer() {
  server = await tailServer((req, res) => void held.push({ req, res }))
  return server
}

function coalescing(options: ResilientFetchOptions = {}) {
  const rf = createResilientFetch({ coalesce: true, fallback: false, retry: false, ...options })
  return rf
}

/**
 * Waits for `p` at most `ms`: only where a request must NOT come (an absence can only be shown by waiting). A request
 * or a close that must come is awaited without a bound: only the test's timeout bounds it, so a stalled machine is no failure.
 */
const within = (p: Promise<unknown>, ms: number) => Promise.race([p, new Promise((resolve) => setTimeout(resolve, ms))])

/** Polls `ok` until it holds, without a deadline (the test's timeout is the only bound). */
const until = async (ok: () => boolean) => {
  while (!ok()) await new Promise((resolve) => setTimeout(resolve, 2))
}

const answer = (i: number, body = 'ok', status = 200) => held[i]!.res.writeHead(status, { 'content-type': 'text/plain' }).end(body)

describe('coalescing against a real server on 127.0.0.1: who joins', () => {
  it('once the shared answer has its headers (its body still coming), the next identical GET sends a new request', async () => {
    const s = await holdingServer()
    const rf = coalescing()
    const [a, b] = [rf(`${s.origin}/me`), rf(`${s.origin}/me`)]
    await s.received(1)
    held[0]!.res.writeHead(200, { 'content-type': 'text/plain' })
    held[0]!.res.write('part one,')
    const [ra, rb] = await Promise.all([a, b])
    // Headers in, body still open: a GET now is not joined to it.
    const later = rf(`${s.origin}/me`)
    await s.received(2)
    expect(s.seen).toHaveLength(2)
    answer(1, 'second request')
    expect(await (await later).text()).toBe('second request')
    expect(resilienceInfo(await later)?.coalesced).toBeUndefined()
    held[0]!.res.end('part two')
    expect([await ra.text(), await rb.text()]).toEqual(['part one,part two', 'part one,part two'])
    expect(s.seen).toHaveLength(2)
    expect(rf.snapshot().totals).toMatchObject({ requests: 3, coalesced: 1 })
  })

  it('a GET that arrives while the shared call waits to retry joins it: one request per attempt, both callers get the retry’s answer', async () => {
    const s = await holdingServer()
    const rf = coalescing({ retry: { limit: 1, backoff: { base: 50, max: 50 }, budget: false } })
    let joined: Promise<Response> | undefined
    // The 'retry' event fires when the first attempt failed and the call starts waiting out its backoff.
    rf.addEventListener('retry', () => void (joined ??= rf(`${s.origin}/flaky`)))
    const first = rf(`${s.origin}/flaky`)
    await s.received(1)
    answer(0, 'busy', 503)
    await s.received(2)
    expect(joined).toBeDefined()
    // A joined GET sends nothing: a third request (a broken build's own) would come now; answer whatever came.
    await within(s.received(3), 250)
    for (let i = 1; i < held.length; i++) answer(i, 'fine')
    const responses = await Promise.all([first, joined!])
    expect(await Promise.all(responses.map((r) => r.text()))).toEqual(['fine', 'fine'])
    expect(responses.map((r) => resilienceInfo(r)?.coalesced === true)).toEqual([false, true])
    expect(s.seen).toHaveLength(2)
    expect(rf.snapshot().totals).toMatchObject({ requests: 2, coalesced: 1, retries: 1 })
  })

  it('header names written in another case and order are the same request: joined', async () => {
    const s = await holdingServer()
    const rf = coalescing()
    const a = rf(`${s.origin}/h`, { headers: { Accept: 'application/json', 'X-Tenant': 'acme' } })
    await s.received(1)
    const b = rf(`${s.origin}/h`, { headers: [['x-tenant', 'acme'], ['ACCEPT', 'application/json']] })
    const c = rf(`${s.origin}/h`, { headers: new Headers({ 'x-TENANT': 'acme', accept: 'application/json' }) })
    // Each call has joined by the time it counts: the totals say so before the answer.
    await until(() => rf.snapshot().totals.coalesced >= 2)
    expect(rf.snapshot().totals.coalesced).toBe(2)
    answer(0, 'shared')
    expect(await Promise.all([a, b, c].map(async (p) => (await p).text()))).toEqual(['shared', 'shared', 'shared'])
    expect(s.seen).toHaveLength(1)
  })

  const different: [string, RequestInit & { resilience?: Record<string, unknown> }][] = [
    ['another priority (resilience.priority)', { resilience: { priority: 'high' } }],
    ['another priority (init.priority)', { priority: 'low' } as RequestInit],
    ['another per-call timeout', { resilience: { timeout: { attempt: 9_000 } } }],
    ['another per-call retry', { resilience: { retry: { limit: 1 } } }],
    ['another per-call fallback', { resilience: { fallback: false } }],
    ['another per-call hedge', { resilience: { hedge: false } }],
    ["credentials 'include'", { credentials: 'include' }],
    ["referrerPolicy 'no-referrer'", { referrerPolicy: 'no-referrer' }],
    ["cache 'no-cache'", { cache: 'no-cache' }],
    ['method HEAD (only GETs coalesce)', { method: 'HEAD' }],
    ["redirect 'manual'", { redirect: 'manual' }],
    ["Node's own dispatcher", { dispatcher: new Agent() } as RequestInit],
  ]
  it.each(different)('a GET with %s is not the same request: it sends its own while the first is in flight', async (_what, init) => {
    const s = await holdingServer()
    const rf = coalescing()
    const first = rf(`${s.origin}/x`)
    await s.received(1)
    const second = rf(`${s.origin}/x`, init as RequestInit)
    await s.received(2)
    expect(s.seen).toHaveLength(2)
    answer(1, 'own')
    answer(0, 'first')
    const own = await second
    expect(init.method === 'HEAD' ? '' : await own.text()).toBe(init.method === 'HEAD' ? '' : 'own')
    expect(resilienceInfo(own)?.coalesced).toBeUndefined()
    expect(await (await first).text()).toBe('first')
    expect(s.seen).toHaveLength(2)
    expect(rf.snapshot().totals.coalesced).toBe(0)
  })
})

describe('coalescing against a real server on 127.0.0.1: never coalesced, even when identical', () => {
  const agent = new Agent()
  const never: [string, RequestInit & { resilience?: Record<string, unknown> }][] = [
    ['an Authorization header', { headers: { authorization: 'Bearer t' } }],
    ['a Cookie header', { headers: { cookie: 'a=1' } }],
    ["cache 'no-store'", { cache: 'no-store' }],
    ["cache 'reload'", { cache: 'reload' }],
    ["mode 'no-cors'", { mode: 'no-cors' }],
    ["redirect 'manual'", { redirect: 'manual' }],
    ["Node's own dispatcher (the same one)", { dispatcher: agent } as RequestInit],
    ['resilience: { coalesce: false }', { resilience: { coalesce: false } }],
    ['method HEAD', { method: 'HEAD' }],
  ]
  it.each(never)('two identical GETs with %s in flight at once: each sends its own request', async (_what, init) => {
    const s = await holdingServer()
    const rf = coalescing()
    const first = rf(`${s.origin}/x`, init as RequestInit)
    await s.received(1)
    const second = rf(`${s.origin}/x`, init as RequestInit)
    await s.received(2)
    expect(s.seen).toHaveLength(2)
    answer(0, 'first')
    answer(1, 'second')
    const texts = await Promise.all([first, second].map(async (p) => (await p).text()))
    expect(texts).toEqual(init.method === 'HEAD' ? ['', ''] : ['first', 'second'])
    expect(rf.snapshot().totals.coalesced).toBe(0)
  })
})

describe('coalescing against a real server on 127.0.0.1: what is shared', () => {
  it('a joined call never takes a bulkhead permit: a bulkhead of one with no queue serves five identical GETs with one request', async () => {
    const s = await holdingServer()
    const rf = coalescing({ bulkhead: { maxConcurrent: 1, maxQueue: 0 } })
    const calls = Array.from({ length: 5 }, () => rf(`${s.origin}/me`))
    await s.received(1)
    expect(rf.snapshot().bulkheads[0]).toMatchObject({ active: 1, queued: 0, rejected: 0 })
    answer(0, 'me')
    expect(await Promise.all(calls.map(async (p) => (await p).text()))).toEqual(Array(5).fill('me'))
    expect(s.seen).toHaveLength(1)
    expect(rf.snapshot()).toMatchObject({ totals: { requests: 5, coalesced: 4, rejected: 0, successes: 5 }, bulkheads: [{ active: 0, rejected: 0 }] })
  })

  it('one breaker sample for the shared request: three callers of one 503 count three failures, the breaker sees one and stays closed', async () => {
    const s = await holdingServer()
    const rf = coalescing({ breaker: { window: 'consecutive', failureThreshold: 2 } })
    const calls = Array.from({ length: 3 }, () => rf(`${s.origin}/down`))
    await s.received(1)
    answer(0, 'down', 503)
    const responses = await Promise.all(calls)
    expect(responses.map((r) => r.status)).toEqual([503, 503, 503])
    expect(rf.snapshot().totals).toMatchObject({ requests: 3, failures: 3, coalesced: 2 })
    expect(rf.breaker(s.origin)!.state).toBe('closed')
    // One more failure of its own opens it: the shared request was one sample, not three.
    const next = rf(`${s.origin}/down`)
    await s.received(2)
    answer(1, 'down', 503)
    expect((await next).status).toBe(503)
    expect(rf.breaker(s.origin)!.state).toBe('open')
  })

  it("the first caller's deadline is the shared request's: every caller times out with it, and the server sees one request closed", async () => {
    const s = await holdingServer()
    const rf = coalescing({ timeout: { attempt: 200, total: 1_000 } })
    const calls = Array.from({ length: 3 }, () => rf(`${s.origin}/hang`))
    const results = await Promise.allSettled(calls)
    expect(results.map((r) => (r.status === 'rejected' ? (r.reason as Error).name : 'resolved'))).toEqual(['TimeoutError', 'TimeoutError', 'TimeoutError'])
    expect(s.seen).toHaveLength(1)
    expect(await s.seen[0]!.closedEarly).toBe(true)
  })

  it('when every caller has cancelled its body, the shared body is cancelled and the connection closes', async () => {
    const s = await holdingServer()
    const rf = coalescing()
    const calls = Array.from({ length: 3 }, () => rf(`${s.origin}/stream`))
    await s.received(1)
    held[0]!.res.writeHead(200, { 'content-type': 'text/plain' })
    held[0]!.res.write('first chunk')
    const responses = await Promise.all(calls)
    let closed = false
    void s.seen[0]!.closedEarly.then(() => (closed = true))
    await responses[0]!.body!.cancel()
    await responses[1]!.body!.cancel()
    // One reader left: the shared body goes on.
    held[0]!.res.write(', second chunk')
    const reader = responses[2]!.body!.getReader()
    let text = ''
    while (!text.includes('second')) text += new TextDecoder().decode((await reader.read()).value)
    expect(closed).toBe(false)
    await reader.cancel()
    expect(await s.seen[0]!.closedEarly).toBe(true)
  })
})
