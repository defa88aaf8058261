/**
 * A percentile hedge delay is read from at least 20 samples of the key. A hedge may read a percentile a few samples
 * old (no sort per call), but never one sorted while the key had fewer than 20: a snapshot (a dashboard's, every
 * second) sorts the samples it reports whenever it is taken.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { LatencySummary } from '../src/latency.js'
import { hedgeDelay, MIN_SAMPLES } from '../src/stages/hedge.js'
import { createResilientFetch } from '../src/index.js'
import { tailServer } from './tail-server.js'

let server: Awaited<ReturnType<typeof tailServer>> | undefined
afterEach(async () => {
  await server?.close()
  server = undefined
})

describe('a percentile hedge delay', () => {
  it('is never read from a sort made before the key had 20 samples', () => {
    const summary = new LatencySummary('k')
    for (let i = 0; i < 5; i++) summary.record(10)
    // As a snapshot reads it.
    expect(summary.figures().p99).toBe(10)
    for (let i = 5; i < MIN_SAMPLES; i++) summary.record(200)
    expect(hedgeDelay('p95', summary)).toBe(200)
  })

  it('may lag a few samples once it has 20 to go on, never more than 16', () => {
    const summary = new LatencySummary('k')
    for (let i = 0; i < 40; i++) summary.record(10)
    expect(hedgeDelay('p95', summary)).toBe(10)
    for (let i = 0; i < 17; i++) summary.record(500)
    // 17 of 57 samples at 500 ms: the p95 is 500, read again after 17 new samples.
    expect(hedgeDelay('p95', summary)).toBe(500)
  })

  it('against a real server on 127.0.0.1: a snapshot taken early does not make a 20th-call hedge fire at the early p95', async () => {
    // Answers after ?ms= milliseconds.
    server = await tailServer((req, res) => {
      const ms = Number(new URL(req.url!, 'http://x').searchParams.get('ms'))
      setTimeout(() => !res.destroyed && res.writeHead(200).end('ok'), ms)
    })
    // Warm: the first request of a process (its connection, the transport's own first use) may take 100 ms or more.
    await (await fetch(`${server.origin}/warm`)).text()
    const rf = createResilientFetch({ hedge: { delay: 'p95', budget: false }, retry: false, fallback: false })
    const get = async (ms: number) => (await rf(`${server!.origin}/item?ms=${ms}`)).text()
    for (let i = 0; i < 5; i++) await get(0)
    rf.snapshot()
    // 15 slow samples: 20 in all, their p95 400 ms or more.
    await Promise.all(Array.from({ length: 15 }, () => get(400)))
    // No snapshot here: it would sort the 20 samples afresh.
    const before = server.seen.length
    await get(250)
    // Answered in 250 ms, before the key's p95: no hedge. The 5 early samples alone say some ms.
    expect(server.seen.length - before).toBe(1)
    expect(rf.snapshot().totals.hedges).toBe(0)
  })
})
