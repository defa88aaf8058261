/**
 * README "Adaptive throttling": "A healthy upstream (at least one accept per k requests) and a key's first attempt are
 * never throttled." Held against a real node:http server on 127.0.0.1 that fails every other request: with k 2 (the
 * default) one accept per two requests is healthy, so nothing is shed; with k 1 the same upstream is shed.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { ThrottledError, createResilientFetch } from '../src/index.js'
import { tailServer } from './tail-server.js'

let server: Awaited<ReturnType<typeof tailServer>> | undefined
afterEach(async () => {
  await server?.close()
  server = undefined
})

const CALLS = 200

/** Sends `CALLS` sequential calls; returns the statuses that came back and how many calls were shed. */
async function send(rf: ReturnType<typeof createResilientFetch>, url: string) {
  const statuses = new Map<number, number>()
  let shed = 0
  for (let i = 0; i < CALLS; i++) {
    try {
      const response = await rf(url)
      await response.arrayBuffer()
      statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1)
    } catch (error) {
      if (!(error instanceof ThrottledError)) throw error
      shed++
    }
  }
  return { statuses: Object.fromEntries(statuses), shed }
}

describe('adaptive throttling against a real server on 127.0.0.1 that fails every other request', () => {
  it('with k 2 (one accept per two requests is healthy): never throttled, every call reaches the upstream', async () => {
    let n = 0
    server = await tailServer((_req, res) => void res.writeHead(n++ % 2 === 0 ? 200 : 503).end('x'))
    const rf = createResilientFetch({ throttle: {}, retry: false, breaker: false, fallback: false })
    expect(await send(rf, `${server.origin}/half`)).toEqual({ statuses: { 200: CALLS / 2, 503: CALLS / 2 }, shed: 0 })
    expect(server.seen).toHaveLength(CALLS)
    expect(rf.snapshot().totals).toMatchObject({ throttled: 0, failures: CALLS / 2, successes: CALLS / 2 })
  }, 30_000) // many real requests: slow on a loaded machine, and no figure here is a time

  it('with k 1 the same upstream is not healthy: it is shed (the k above is what kept it whole)', async () => {
    let n = 0
    server = await tailServer((_req, res) => void res.writeHead(n++ % 2 === 0 ? 200 : 503).end('x'))
    const rf = createResilientFetch({ throttle: { k: 1 }, retry: false, breaker: false, fallback: false })
    // p settles near 1/3: no shed in 200 calls has odds below 1e-30.
    const { shed } = await send(rf, `${server.origin}/half`)
    expect(shed).toBeGreaterThan(0)
    expect(server.seen).toHaveLength(CALLS - shed)
  }, 30_000) // many real requests: slow on a loaded machine, and no figure here is a time
})
