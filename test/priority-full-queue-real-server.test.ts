/**
 * README "Priority": a full queue rejects an arrival that has no lower-priority waiter to displace, and the displaced
 * waiter is the most recently queued of the lowest priority; held against a real node:http server on 127.0.0.1.
 * The server holds every response until the test releases it, so the queue's contents are states the test sets.
 */
import { describe, expect, it } from 'vitest'
import { BulkheadRejectedError, createResilientFetch } from '../src/index.js'
import { tailServerEachTest } from './tail-server.js'

const { held, start } = tailServerEachTest()

type Priority = 'high' | 'normal' | 'low'
const rank: Record<Priority, number> = { high: 0, normal: 1, low: 2 }

async function queueOfTwo() {
  const s = await start((_req, res) => void held.push(res))
  const rf = createResilientFetch({ bulkhead: { maxConcurrent: 1, maxQueue: 2 }, retry: false, fallback: false, breaker: false, timeout: false })
  const call = (name: string, priority: Priority) =>
    rf(`${s.origin}/${name}`, { resilience: { priority } }).then(
      async (r) => void (await r.text()),
      (error: unknown) => error,
    )
  const blocker = call('blocker', 'normal')
  await s.received(1)
  /** Serves the held requests one by one, as the server receives them, and returns the paths it saw. */
  const drain = async (n: number) => {
    for (let served = 1; served <= n; served++) {
      await s.received(served)
      held[served - 1]!.writeHead(200).end('ok')
    }
    return s.seen.map((x) => x.path)
  }
  return { rf, call, blocker, drain }
}

describe('priority against a real server on 127.0.0.1: a full queue', () => {
  it.each([
    ['an arrival of the same priority as every waiter', ['normal', 'normal'], 'normal'],
    ['a low arrival at a queue of normal and high', ['normal', 'high'], 'low'],
    ['a normal arrival at a queue of high', ['high', 'high'], 'normal'],
    ['a low arrival at a queue of low and normal (an equal waiter is not displaced)', ['low', 'normal'], 'low'],
  ] as [string, Priority[], Priority][])('rejects %s with BulkheadRejectedError; it is never sent, the waiters keep their places', async (_what, queued, arriving) => {
    const { rf, call, blocker, drain } = await queueOfTwo()
    const waiters = queued.map((p, i) => call(`waiter${i}-${p}`, p))
    // Rejected at once. Awaited without a bound (a stalled machine may take its time): a broken build that queued it
    // (displacing a waiter) leaves it waiting, and the test fails at its own timeout.
    const arrival = await call(`arrival-${arriving}`, arriving)
    expect(arrival).toBeInstanceOf(BulkheadRejectedError)
    const seen = await drain(3)
    await Promise.all([blocker, ...waiters])
    const order = queued.map((p, i) => ({ path: `/waiter${i}-${p}`, p })).sort((a, b) => rank[a.p] - rank[b.p]).map((x) => x.path)
    expect(seen).toEqual(['/blocker', ...order])
    expect(rf.snapshot().bulkheads[0]).toMatchObject({ active: 0, queued: 0, rejected: 1 })
  })
})
