/**
 * README "Hedged requests": "an attempt still waiting at a gate (in a full bulkhead's queue) has not been sent and gets
 * no hedge while it waits; once sent, it gets its hedge within a further delay if it is still slow (the hedge event's
 * delay is the whole time waited)." Held against a real node:http server on 127.0.0.1 that holds every response until
 * the test releases it. The wait while queued is a bounded absence (ten delays); no duration is asserted.
 */
import { describe, expect, it } from 'vitest'
import { createResilientFetch, resilienceInfo } from '../src/index.js'
import { tailServerEachTest } from './tail-server.js'

const DELAY = 25

const { held, start } = tailServerEachTest()

/** Polls `ok` until it holds, without a deadline: what is due is awaited unbounded, the test's timeout is the only bound. */
const until = async (ok: () => boolean) => {
  while (!ok()) await new Promise((resolve) => setTimeout(resolve, 5))
}

describe('hedging a call that waited in the bulkhead queue, against a real server on 127.0.0.1', () => {
  it('no hedge while queued; once sent and still slow, its hedge goes, and the hedge event counts the whole wait', async () => {
    const s = await start((_req, res) => void held.push(res))
    const rf = createResilientFetch({ hedge: { delay: DELAY, budget: false }, bulkhead: { maxConcurrent: 2, maxQueue: 5 }, retry: false, fallback: false, breaker: false, timeout: false })
    const hedges: { attempt: number; delay: number }[] = []
    rf.addEventListener('hedge', (e) => hedges.push(e.detail))
    const blockers = [1, 2].map((i) => rf(`${s.origin}/blocker${i}`, { resilience: { hedge: false } }))
    await s.received(2)
    const call = rf(`${s.origin}/item`)
    // Ten delays in the queue: nothing of it was sent, no hedge.
    await new Promise((resolve) => setTimeout(resolve, 10 * DELAY))
    expect(s.seen.map((x) => x.path)).toEqual(['/blocker1', '/blocker2'])
    expect(hedges).toEqual([])
    // A permit: the call is sent, and held. Its hedge is due within a delay; it waits for the other permit.
    held[0]!.writeHead(200).end('b1')
    await s.received(3)
    expect(s.seen.map((x) => x.path)).toEqual(['/blocker1', '/blocker2', '/item'])
    await until(() => hedges.length >= 1)
    expect(hedges).toHaveLength(1)
    held[1]!.writeHead(200).end('b2')
    await s.received(4)
    expect(s.seen.map((x) => x.path)).toEqual(['/blocker1', '/blocker2', '/item', '/item'])
    held[3]!.writeHead(200).end('hedge')
    const response = await call
    expect(await response.text()).toBe('hedge')
    expect(resilienceInfo(response)?.hedged).toBe(true)
    expect(await s.seen[2]!.closedEarly).toBe(true)
    await Promise.all(blockers.map(async (b) => (await b).text()))
    // The whole time waited, in whole delays: the ten or so in the queue and the one after it was sent.
    expect(hedges[0]!.attempt).toBe(2)
    expect(hedges[0]!.delay % DELAY).toBe(0)
    expect(hedges[0]!.delay).toBeGreaterThan(DELAY)
  })
})
