import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { createResilientFetch } from '../src/index.js'
import type { BreakerShare } from '../src/types.js'
import { rejection } from './helpers.js'

// What the gates take (a permit, a probe slot) is given back whatever a share does, and a call settles by its abort or deadline.

let server: Server
let origin: string
let hits = 0

beforeAll(async () => {
  server = createServer((_req, res) => {
    hits++
    res.end('ok')
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})

afterAll(async () => {
  server.closeAllConnections()
  await new Promise<void>((resolve) => server.close(() => resolve()))
})

afterEach(() => void vi.useRealTimers())

const fail = () => {
  throw new Error('share failed')
}

describe('a share that throws (real server)', () => {
  it('record throws: every call still answers 200 and gives its permit back', async () => {
    const rf = createResilientFetch({ fallback: false, retry: false, bulkhead: { maxConcurrent: 2, maxQueue: 1, queueTimeout: 300 }, share: { connect() {}, record: fail } })
    hits = 0
    for (let i = 0; i < 3; i++) expect(await (await rf(`${origin}/x`)).text()).toBe('ok')
    expect(hits).toBe(3)
    expect(rf.snapshot().bulkheads[0]).toMatchObject({ active: 0, queued: 0, rejected: 0 })
  })

  it('releaseProbe and publish throw: the probe answers 200, the breaker closes, later calls pass', async () => {
    const share: BreakerShare = { connect() {}, acquireProbe: async () => true, releaseProbe: fail, publish: fail }
    const rf = createResilientFetch({ fallback: false, retry: false, share })
    await (await rf(`${origin}/y`)).text()
    rf.breaker(origin)!.open(20)
    await new Promise((resolve) => setTimeout(resolve, 30))
    expect((await rf(`${origin}/y`)).status).toBe(200)
    expect(rf.breaker(origin)!.state).toBe('closed')
    expect((await rf(`${origin}/y`)).status).toBe(200)
    expect(rf.snapshot().bulkheads[0]).toMatchObject({ active: 0 })
  })
})

describe('a share whose acquireProbe never answers', () => {
  async function halfOpen(options: { timeout: { attempt: number; total: number } }) {
    vi.useFakeTimers({ now: 1_000_000 })
    const share: BreakerShare = { connect() {}, acquireProbe: () => new Promise(() => {}) }
    const rf = createResilientFetch({ fetch: async () => new Response('ok'), fallback: false, retry: false, share, ...options })
    await rf('http://a.test/')
    rf.breaker('http://a.test')!.open(10)
    await vi.advanceTimersByTimeAsync(10)
    return rf
  }

  it('the caller abort ends the call at once, its permit and probe slot given back', async () => {
    const rf = await halfOpen({ timeout: { attempt: 300, total: 500 } })
    const controller = new AbortController()
    const reason = new Error('user left')
    const before = vi.getTimerCount()
    const call = rejection(rf('http://a.test/', { signal: controller.signal }))
    await vi.advanceTimersByTimeAsync(100)
    controller.abort(reason)
    expect(await call).toBe(reason)
    expect(rf.snapshot().bulkheads[0]).toMatchObject({ active: 0 })
    expect(rf.breaker('http://a.test')!.state).toBe('half-open')
    expect(vi.getTimerCount()).toBe(before)
  })

  it('the total deadline ends the call with a TimeoutError', async () => {
    const rf = await halfOpen({ timeout: { attempt: 300, total: 500 } })
    const call = rejection(rf('http://a.test/'))
    await vi.advanceTimersByTimeAsync(500)
    expect(await call).toMatchObject({ name: 'TimeoutError', scope: 'total' })
    expect(rf.snapshot()).toMatchObject({ bulkheads: [{ active: 0 }], totals: { timeouts: 1 } })
    expect(vi.getTimerCount()).toBe(0)
  })
})
