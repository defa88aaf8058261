import type { ServerResponse } from 'node:http'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { ThrottledError, createResilientFetch, resilienceInfo } from '../src/index.js'
import { tailServer } from './tail-server.js'

let server: Awaited<ReturnType<typeof tailServer>> | undefined
afterEach(async () => {
  vi.restoreAllMocks()
  await server?.close()
  server = undefined
})

const CALLS = 200

/** Sends `CALLS` sequential calls; returns how many reached the server and how many were throttled. */
async function send(rf: ReturnType<typeof createResilientFetch>, url: string, priority?: 'high' | 'low') {
  const before = server!.seen.length
  let throttled = 0
  for (let i = 0; i < CALLS; i++) {
    try {
      await (await rf(url, { resilience: priority === undefined ? undefined : { priority } })).arrayBuffer()
    } catch (error) {
      if (!(error instanceof ThrottledError)) throw error
      throttled++
    }
  }
  return { reached: server!.seen.length - before, throttled }
}

describe('adaptive throttling against a real server on 127.0.0.1', () => {
  it('a healthy upstream is never throttled', async () => {
    server = await tailServer((_req, res) => void res.writeHead(200).end('ok'))
    const rf = createResilientFetch({ throttle: {}, retry: false, breaker: false, fallback: false })
    expect(await send(rf, `${server.origin}/ok`)).toEqual({ reached: CALLS, throttled: 0 })
    expect(rf.snapshot().totals.throttled).toBe(0)
  })

  it('an upstream failing every call gets a shrinking share; high-priority calls get more of it than low', async () => {
    server = await tailServer((_req, res) => void res.writeHead(503).end('down'))
    const rf = createResilientFetch({ throttle: {}, retry: false, breaker: false, fallback: false })
    const normal = await send(rf, `${server.origin}/down`)
    // p grows to maxRejectRate (0.9): most calls never reach the upstream, some always do.
    expect(normal.reached).toBeLessThan(CALLS * 0.5)
    expect(normal.reached).toBeGreaterThan(0)
    const high = await send(rf, `${server.origin}/down`, 'high')
    const low = await send(rf, `${server.origin}/down`, 'low')
    // High is shed with p / 2 (~0.45), low with min(2p, 0.9) = 0.9.
    expect(high.reached / CALLS).toBeGreaterThan(low.reached / CALLS + 0.2)
    expect(rf.snapshot().totals.throttled).toBe(normal.throttled + high.throttled + low.throttled)
  })

  it('a throttled call is answered by the fallback copy like any refusal, and is not retried', async () => {
    let down = false
    server = await tailServer((_req, res) => void res.writeHead(down ? 503 : 200).end(down ? 'down' : 'good'))
    const rf = createResilientFetch({ throttle: {}, retry: { limit: 2, backoff: { base: 1 } }, breaker: false, fallback: { store: 'memory' } })
    await (await rf(`${server.origin}/item`)).text()
    // The copy is stored off the hot path.
    await new Promise((resolve) => setTimeout(resolve, 50))
    down = true
    let served: Response | undefined
    const throttled: unknown[] = []
    rf.addEventListener('throttle', (e) => throttled.push(e.detail))
    for (let i = 0; i < CALLS && served === undefined; i++) {
      const before = server.seen.length
      const response = await rf(`${server.origin}/item`)
      const text = await response.text()
      if (server.seen.length === before) {
        expect(text).toBe('good')
        expect(resilienceInfo(response)?.source).toBe('fallback')
        served = response
      }
    }
    expect(served).toBeDefined()
    expect(throttled.length).toBeGreaterThan(0)
  })
})

/*
 * README "Hedged requests": "When an attempt has no response headers after delay, one more attempt starts through the
 * same throttle, bulkhead and breaker"; README "Adaptive throttling": "A shed attempt rejects with ThrottledError (key,
 * probability), is not retried, ...; totals.throttled, the throttle event and reject with reason 'throttle' report it."
 * Against a real server on 127.0.0.1: three 503s make p = 3 / 4; the draws are the test's (Math.random stubbed): the
 * first attempt of the next call goes (0.99) and is held, its hedge is shed (0). The wait showing the hedge is not sent
 * is bounded (ten delays); the call is answered by its first attempt.
 */
describe('a hedge passes the same throttle as any attempt, against a real server on 127.0.0.1', () => {
  it('with the throttle shedding, a hedge is shed (never sent) and counted as a shed attempt; the first attempt answers', async () => {
    const DELAY = 25
    const held: ServerResponse[] = []
    server = await tailServer((_req, res) => void (server!.seen.length <= 3 ? res.writeHead(503).end('down') : held.push(res)))
    const draws = vi.spyOn(Math, 'random').mockReturnValue(0.99)
    const rf = createResilientFetch({ throttle: {}, hedge: { delay: DELAY, budget: false }, retry: false, breaker: false, fallback: false, timeout: false })
    const url = `${server.origin}/item`
    for (let i = 0; i < 3; i++) expect((await rf(url, { resilience: { hedge: false } })).status).toBe(503)
    const throttled: unknown[] = []
    const rejected: unknown[] = []
    const hedges: unknown[] = []
    rf.addEventListener('throttle', (e) => throttled.push(e.detail))
    rf.addEventListener('reject', (e) => rejected.push(e.detail))
    rf.addEventListener('hedge', (e) => hedges.push(e.detail))
    // The first attempt's draw goes (0.99 >= 0.75); every draw after it (the hedge's) sheds.
    draws.mockReturnValueOnce(0.99).mockReturnValue(0)
    const call = rf(url)
    await server.received(4)
    // The hedge is due after a delay and shed: awaited without a bound (the test's timeout alone bounds it).
    while (throttled.length === 0) await new Promise((resolve) => setTimeout(resolve, 5))
    await new Promise((resolve) => setTimeout(resolve, 10 * DELAY))
    expect(server.seen, 'the shed hedge was never sent').toHaveLength(4)
    const key = (throttled[0] as { key: string }).key
    expect(throttled).toEqual([{ key, probability: 0.75 }])
    expect(rejected).toEqual([{ key, reason: 'throttle' }])
    held[0]!.writeHead(200).end('first')
    const response = await call
    expect(await response.text()).toBe('first')
    expect(resilienceInfo(response)).toEqual({ source: 'network', key, attempts: 1 })
    expect(hedges.map((h) => (h as { attempt: number }).attempt), 'the hedge started (then shed)').toEqual([2])
    expect(rf.snapshot().totals.throttled).toBe(1)
    expect(server.seen).toHaveLength(4)
  })
})
