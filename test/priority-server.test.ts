import type { ServerResponse } from 'node:http'
import { describe, expect, it } from 'vitest'
import { BulkheadRejectedError, createResilientFetch } from '../src/index.js'
import { tailServerEachTest } from './tail-server.js'

const { start } = tailServerEachTest()

describe('priority against a real server on 127.0.0.1', () => {
  it('the bulkhead queue sends high before normal before low, FIFO within one; a full queue displaces the newest low', async () => {
    const held: ServerResponse[] = []
    const server = await start((_req, res) => void held.push(res))
    const rf = createResilientFetch({ bulkhead: { maxConcurrent: 1, maxQueue: 4 }, retry: false, fallback: false, breaker: false, timeout: false })
    const call = (name: string, priority?: 'high' | 'normal' | 'low', init: RequestInit = {}) =>
      rf(`${server.origin}/${name}`, { ...init, resilience: priority === undefined ? undefined : { priority } }).then(
        async (r) => void (await r.text()),
        (error: unknown) => error,
      )
    const calls = [call('blocker')]
    await server.received(1)
    calls.push(call('low1', 'low'), call('normal1'), call('low2', 'low'), call('high1', undefined, { priority: 'high' } as RequestInit))
    // The queue is full (4): a high arrival takes the place of the newest low waiter.
    calls.push(call('high2', 'high'))
    const displaced = await calls[3]
    expect(displaced).toBeInstanceOf(BulkheadRejectedError)
    for (let served = 1; served <= 5; served++) {
      await server.received(served)
      held[served - 1]!.writeHead(200).end('ok')
    }
    await Promise.all(calls)
    expect(server.seen.map((s) => s.path)).toEqual(['/blocker', '/high1', '/high2', '/normal1', '/low1'])
    expect(rf.snapshot().bulkheads[0]).toMatchObject({ active: 0, queued: 0, rejected: 1 })
  })

  it("fetch's init.priority orders the queue with a custom key() too, and with an init that is not a plain object", async () => {
    const held: ServerResponse[] = []
    const server = await start((_req, res) => void held.push(res))
    const rf = createResilientFetch({ bulkhead: { maxConcurrent: 1, maxQueue: 10 }, retry: false, fallback: false, breaker: false, timeout: false, key: (req) => new URL(req.url).host })
    /** An init read whole, as fetch reads it (its members inherited). */
    const inherited = (init: RequestInit) => Object.create(init) as RequestInit
    const calls = [rf(`${server.origin}/busy`)]
    await server.received(1)
    calls.push(rf(`${server.origin}/low`, { priority: 'low' } as RequestInit), rf(`${server.origin}/normal`))
    calls.push(rf(`${server.origin}/high`, inherited({ priority: 'high' } as RequestInit)), rf(`${server.origin}/high2`, { priority: 'high' } as RequestInit))
    for (let served = 1; served <= 5; served++) {
      await server.received(served)
      held[served - 1]!.writeHead(200).end('ok')
    }
    await Promise.all(calls.map(async (p) => (await p).text()))
    expect(server.seen.map((s) => s.path)).toEqual(['/busy', '/high', '/high2', '/normal', '/low'])
  })
})
