/**
 * README "Hedged requests": which calls are hedged, how many hedges, what a hedge sends, and how a probe left to finish
 * still ends, held against a real node:http server on 127.0.0.1 (Node's own fetch, real sockets). The server holds
 * each response until the test releases it.
 *
 * Where the promise is that something is NOT sent (no hedge), only waiting shows it: the test waits a bounded
 * `ABSENT` (ten hedge delays) and counts what the server saw; it never asserts how long anything took.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { createResilientFetch, resilienceInfo } from '../src/index.js'
import type { ResilientFetchOptions } from '../src/types.js'
import { requestBody } from './helpers.js'
import { tailServer } from './tail-server.js'

const DELAY = 25
const ABSENT = 10 * DELAY

let server: Awaited<ReturnType<typeof tailServer>> | undefined
let held: { req: IncomingMessage; res: ServerResponse; body: Promise<string> }[] = []
afterEach(async () => {
  vi.useRealTimers()
  for (const { res } of held) if (!res.writableEnded) res.destroy()
  held = []
  await server?.close()
  server = undefined
})

/** A server that records each request and its body, and holds it until the test answers it. */
async function holdingServer() {
  server = await tailServer((req, res) => {
    req.pause()
    const body = requestBody(req)
    req.resume()
    held.push({ req, res, body })
  })
  return server
}

const hedging = (hedge: ResilientFetchOptions['hedge'] = { delay: DELAY, budget: false }, options: ResilientFetchOptions = {}) =>
  createResilientFetch({ hedge, retry: false, fallback: false, breaker: false, ...options })

const absent = () => new Promise((resolve) => setTimeout(resolve, ABSENT))

/** Polls `ok` until it holds, without a deadline: what is due is awaited unbounded, the test's timeout is the only bound. */
const until = async (ok: () => boolean) => {
  while (!ok()) await new Promise((resolve) => setTimeout(resolve, 10))
}

describe('hedging against a real server on 127.0.0.1: which calls, how many', () => {
  it('with hedge: {} methods, HEAD is hedged: its hedge reaches the server and wins', async () => {
    const s = await holdingServer()
    const rf = hedging({ delay: DELAY, budget: false })
    const call = rf(`${s.origin}/item`, { method: 'HEAD' })
    await s.received(2)
    expect(s.seen).toHaveLength(2)
    expect(held.map((h) => h.req.method)).toEqual(['HEAD', 'HEAD'])
    held[1]!.res.writeHead(200).end()
    const response = await call
    expect(resilienceInfo(response)?.hedged).toBe(true)
    expect(await s.seen[0]!.closedEarly).toBe(true)
  })

  it('a POST is not hedged by default (methods GET and HEAD): the server sees it once', async () => {
    const s = await holdingServer()
    const rf = hedging()
    const call = rf(`${s.origin}/pay`, { method: 'POST', body: 'charge' })
    await s.received(1)
    await absent()
    expect(s.seen).toHaveLength(1)
    held[0]!.res.writeHead(200).end('paid')
    expect(await (await call).text()).toBe('paid')
    expect(rf.snapshot().totals.hedges).toBe(0)
  })

  it('maxHedges defaults to 1: an upstream that never answers sees two requests, not three', async () => {
    const s = await holdingServer()
    const rf = hedging({ delay: DELAY, budget: false })
    const call = rf(`${s.origin}/slow`)
    await s.received(2)
    await absent()
    expect(s.seen).toHaveLength(2)
    held[0]!.res.writeHead(200).end('first')
    expect(await (await call).text()).toBe('first')
    expect(rf.snapshot().totals.hedges).toBe(1)
  })

  it('maxHedges 2: hedges a delay apart, three requests, the third wins and the other two are closed', async () => {
    const s = await holdingServer()
    const rf = hedging({ delay: DELAY, maxHedges: 2, budget: false })
    const call = rf(`${s.origin}/slow`)
    await s.received(3)
    await absent()
    expect(s.seen).toHaveLength(3)
    held[2]!.res.writeHead(200).end('third')
    expect(await (await call).text()).toBe('third')
    expect(await Promise.all(s.seen.map((x) => x.closedEarly))).toEqual([true, true, false])
  })

  it('resilience: { hedge: false } opts a GET out: the server sees it once', async () => {
    const s = await holdingServer()
    const rf = hedging()
    const call = rf(`${s.origin}/once`, { resilience: { hedge: false } })
    await s.received(1)
    await absent()
    expect(s.seen).toHaveLength(1)
    held[0]!.res.writeHead(200).end('ok')
    expect(await (await call).text()).toBe('ok')
  })

  it('resilience: { hedge: true } opts a POST in on an instance created with hedge: the hedge sends the same request, body and all', async () => {
    const s = await holdingServer()
    const rf = hedging()
    const call = rf(`${s.origin}/put?x=1`, { method: 'POST', body: 'same body', headers: { 'x-trace': 'abc', 'content-type': 'text/plain' }, resilience: { hedge: true } })
    await s.received(2)
    expect(s.seen).toHaveLength(2)
    held[1]!.res.writeHead(200).end('hedge')
    expect(await (await call).text()).toBe('hedge')
    // Node sends a hedge exactly as the first attempt: method, URL, headers and body.
    const [a, b] = held
    expect([b!.req.method, b!.req.url, await b!.body]).toEqual([a!.req.method, a!.req.url, await a!.body])
    expect(await a!.body).toBe('same body')
    expect(b!.req.headers).toEqual(a!.req.headers)
  })

  it('resilience: { hedge: true } on an instance created without hedge does nothing: the server sees one request', async () => {
    const s = await holdingServer()
    const rf = createResilientFetch({ retry: false, fallback: false, breaker: false })
    const call = rf(`${s.origin}/item`, { resilience: { hedge: true } })
    await s.received(1)
    await absent()
    expect(s.seen).toHaveLength(1)
    held[0]!.res.writeHead(200).end('ok')
    expect(await (await call).text()).toBe('ok')
    expect(resilienceInfo(await call)?.hedged).toBeUndefined()
  })

  it('a call with an async-iterable body is never hedged, even when asked: sent once, its body whole', async () => {
    const s = await holdingServer()
    const rf = hedging()
    async function* chunks() {
      yield new TextEncoder().encode('part one,')
      yield new TextEncoder().encode('part two')
    }
    const call = rf(`${s.origin}/upload`, { method: 'POST', body: chunks(), duplex: 'half', resilience: { hedge: true } } as unknown as RequestInit)
    await s.received(1)
    await absent()
    expect(s.seen).toHaveLength(1)
    expect(await held[0]!.body).toBe('part one,part two')
    held[0]!.res.writeHead(200).end('stored')
    expect(await (await call).text()).toBe('stored')
    expect(rf.snapshot().totals.hedges).toBe(0)
  })
})

describe("hedging against a real server on 127.0.0.1: a probe left to finish still ends by the call's abort and its attempt deadline", () => {
  /**
   * A half-open breaker (two probes, two successes to close); the call's first attempt (a probe) is held and never
   * answered, its hedge (the second probe) answers at once and wins. Returns the call's response and the held probe.
   */
  async function probeLeftRunning(options: ResilientFetchOptions, init: RequestInit = {}) {
    server = await tailServer((_req, res, seen) => {
      if (server!.seen.indexOf(seen) === 1) return void held.push({ req: _req, res, body: Promise.resolve('') })
      res.writeHead(200).end('fast')
    })
    // Only the clock is fake: the breaker's open duration passes at once; the server and the sockets run in real time.
    vi.useFakeTimers({ toFake: ['Date'] })
    const rf = createResilientFetch({
      hedge: { delay: DELAY, budget: false },
      retry: false,
      fallback: false,
      breaker: { window: 'consecutive', failureThreshold: 1, openDuration: 100, halfOpen: { probes: 2, successesToClose: 2 } },
      ...options,
    })
    await (await rf(`${server.origin}/warm`, { resilience: { hedge: false } })).text()
    const breaker = rf.breaker(server.origin)!
    breaker.open(100)
    vi.setSystemTime(Date.now() + 100)
    expect(breaker.state).toBe('half-open')
    const response = await rf(`${server.origin}/item`, init)
    expect(await response.text()).toBe('fast')
    expect(resilienceInfo(response)).toMatchObject({ hedged: true })
    expect(server.seen).toHaveLength(3)
    return { rf, breaker, probe: server.seen[1]! }
  }

  /** Whether the probe's connection closed within `ms` (false: still open). */
  const closedWithin = (closedEarly: Promise<boolean>, ms: number) =>
    Promise.race([closedEarly, new Promise<'open'>((resolve) => setTimeout(() => resolve('open'), ms))])

  it("the caller's abort, after the call has its answer, ends the probe left running: the server sees its connection close", async () => {
    const controller = new AbortController()
    const { probe } = await probeLeftRunning({ timeout: { attempt: 60_000, total: 120_000 } }, { signal: controller.signal })
    // Left to finish: not aborted with the other losers.
    expect(await closedWithin(probe.closedEarly, ABSENT)).toBe('open')
    controller.abort(new Error('user left'))
    expect(await probe.closedEarly).toBe(true)
  })

  it('its attempt deadline ends the probe left running: the server sees its connection close, and the breaker re-opens', async () => {
    const { probe, breaker } = await probeLeftRunning({ timeout: { attempt: 400, total: 60_000 } })
    expect(await probe.closedEarly).toBe(true)
    // The probe's timeout is its verdict: a failure re-opens the half-open breaker.
    await until(() => breaker.state === 'open')
    expect(breaker.state).toBe('open')
  })
})
