/**
 * README "Hedged requests": `hedge: {}` is "delay 'p95', maxHedges 1, methods GET and HEAD, budget { ratio: 0.1, min: 5 }",
 * and a percentile delay is "of the key's recent attempt latency (no hedge before 20 samples)". Held against a real
 * node:http server on 127.0.0.1 that holds the first request of a call until the test releases it: once the key has
 * 20 samples a slow call is hedged at its p95; the default budget lets five hedges through, plus one per ten
 * calls. Where a hedge is NOT due, only waiting shows it: a bounded `ABSENT`; where one is due, it is waited for without a
 * bound. No duration is asserted.
 */
import { describe, expect, it } from 'vitest'
import { createResilientFetch, resilienceInfo } from '../src/index.js'
import { tailServerEachTest } from './tail-server.js'

const ABSENT = 500

const { held, start } = tailServerEachTest()

/** Waits for `p` at most `ms`; true when it came. */
const within = (p: Promise<unknown>, ms: number) => Promise.race([p.then(() => true), new Promise<boolean>((resolve) => setTimeout(resolve, ms, false))])

/** /fast answers at once; a /slow request is held (the test answers it). */
async function slowOrFast() {
  return start((req, res) => {
    if (req.url!.startsWith('/slow')) return void held.push(res)
    res.writeHead(200).end('fast')
  })
}

describe('hedge: {} against a real server on 127.0.0.1', () => {
  it("delay 'p95': no hedge before 20 samples; with 20, a slow call's hedge goes and wins", async () => {
    const s = await slowOrFast()
    const rf = createResilientFetch({ hedge: {}, retry: false, fallback: false })
    for (let i = 0; i < 19; i++) await (await rf(`${s.origin}/fast`)).text()
    // 19 samples: a slow call is not hedged.
    const early = rf(`${s.origin}/slow/early`)
    await s.received(20)
    expect(await within(s.received(21), ABSENT)).toBe(false)
    held[0]!.writeHead(200).end('slow')
    expect(await (await early).text()).toBe('slow')
    // That was the 20th sample (a slow one; the p95 of 20 is the 19th fastest: a fast one).
    expect(rf.snapshot().latencies[0]).toMatchObject({ samples: 20 })
    const late = rf(`${s.origin}/slow/late`)
    await s.received(21)
    // The hedge is due: waited for without a bound (a machine that stalls must not fail it); were it never sent, the test would time out.
    await s.received(22)
    expect(s.seen.slice(20).map((x) => x.path)).toEqual(['/slow/late', '/slow/late'])
    held[2]!.writeHead(200).end('hedge')
    const response = await late
    expect(await response.text()).toBe('hedge')
    expect(resilienceInfo(response)?.hedged).toBe(true)
    expect(await s.seen[20]!.closedEarly).toBe(true)
  })

  it('budget { ratio: 0.1, min: 5 }: of 10 slow calls in a row, the first six are hedged (5 + 0.1 × 6), the next four are not', async () => {
    const s = await slowOrFast()
    const rf = createResilientFetch({ hedge: { delay: 25 }, retry: false, fallback: false })
    const hedgedCalls: boolean[] = []
    // Where a hedge is due, it is waited for without a bound (a stalled machine must not fail it; were it never sent, the
    // test would time out); where it is not, for ABSENT.
    const due = [true, true, true, true, true, true, false, false, false, false]
    for (let i = 0; i < 10; i++) {
      const before = s.seen.length
      const call = rf(`${s.origin}/slow/${i}`)
      await s.received(before + 1)
      const hedged = due[i] ? (await s.received(before + 2), true) : await within(s.received(before + 2), ABSENT)
      // Answer the hedge when it came, else the first request.
      held.at(-1)!.writeHead(200).end(hedged ? 'hedge' : 'first')
      expect(await (await call).text()).toBe(hedged ? 'hedge' : 'first')
      hedgedCalls.push(hedged)
    }
    // Hedges allowed over the window: min + ratio × calls (the budget option's doc in src/types.ts). The sixth call has room for a sixth (5 + 0.6); the
    // next room comes at the eleventh call.
    expect(hedgedCalls).toEqual(due)
    expect(rf.snapshot().totals.hedges).toBe(6)
  })
})
