import { afterEach, describe, expect, it } from 'vitest'
import { ThrottledError, createResilientFetch, resilienceInfo } from '../src/index.js'
import { tailServer } from './tail-server.js'

let server: Awaited<ReturnType<typeof tailServer>> | undefined
afterEach(async () => {
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
