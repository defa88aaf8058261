import { describe, expect, it } from 'vitest'
import { LATENCY_BUCKETS, LATENCY_SAMPLES, LatencySummary } from '../src/latency.js'
import { createResilientFetch } from '../src/index.js'
import { TimeoutError } from '../src/errors.js'
import { latencyStage } from '../src/stages/latency.js'
import type { Attempt, Outcome } from '../src/stages/types.js'

describe('LatencySummary', () => {
  it('reports nearest-rank percentiles of the samples held', () => {
    const s = new LatencySummary()
    for (let ms = 1; ms <= 100; ms++) s.record(ms)
    expect(s.figures()).toMatchObject({ samples: 100, p50: 50, p90: 90, p99: 99, count: 100, sum: 5050 })
  })

  it('has no percentile before the first sample, and zeros in its figures', () => {
    const s = new LatencySummary()
    expect(s.percentile(0.5)).toBeUndefined()
    expect(s.figures()).toMatchObject({ samples: 0, p50: 0, p90: 0, p99: 0, count: 0 })
  })

  it('keeps only the last 128 samples for percentiles, and counts every sample', () => {
    const s = new LatencySummary()
    for (let i = 0; i < 1_000; i++) s.record(1_000)
    for (let i = 0; i < LATENCY_SAMPLES; i++) s.record(10)
    expect(s.figures()).toMatchObject({ samples: LATENCY_SAMPLES, p50: 10, p99: 10, count: 1_000 + LATENCY_SAMPLES })
  })

  it('a percentile allowed to be stale re-sorts only after that many new samples', () => {
    const s = new LatencySummary()
    for (let i = 0; i < 50; i++) s.record(10)
    expect(s.percentile(0.95, 16)).toBe(10)
    for (let i = 0; i < 16; i++) s.record(500)
    expect(s.percentile(0.95, 16)).toBe(10)
    s.record(500)
    expect(s.percentile(0.95, 16)).toBe(500)
    expect(s.percentile(0.5)).toBe(10)
  })

  it('fills cumulative histogram buckets by upper bound, the bound itself included', () => {
    const s = new LatencySummary()
    for (const ms of [1, 5, 6, 99, 100, 101, 20_000]) s.record(ms)
    const { buckets, count } = s.figures()
    const at = (bound: number) => buckets[LATENCY_BUCKETS.indexOf(bound)]
    expect(at(5)).toBe(2)
    expect(at(10)).toBe(3)
    expect(at(100)).toBe(5)
    expect(at(250)).toBe(6)
    expect(at(10_000)).toBe(6)
    expect(count).toBe(7)
  })

  it('ignores a duration that is not a number of ms', () => {
    const s = new LatencySummary()
    s.record(NaN)
    s.record(-1)
    expect(s.count).toBe(0)
  })
})

describe('the latency gate records attempt time to response headers only', () => {
  const gate = latencyStage()
  const settle = (summary: LatencySummary, outcome: Outcome) => gate.settle(summary, {} as Attempt, true, outcome)

  it('records a response (a failing status included), not a network error, a timeout, an abort or a refusal', () => {
    const summary = gate.forKey!('https://a.test')
    settle(summary, { kind: 'error', error: new TypeError('fetch failed'), failure: true, duration: 2 })
    settle(summary, { kind: 'timeout', error: new TimeoutError(200, 'attempt'), failure: true, duration: 200 })
    settle(summary, { kind: 'aborted', reason: new Error('gone') })
    settle(summary, { kind: 'refused', reason: 'bulkhead', error: new Error('full') })
    expect(summary.count).toBe(0)
    settle(summary, { kind: 'response', response: new Response(null, { status: 503 }), failure: true, duration: 40 })
    settle(summary, { kind: 'response', response: new Response('ok'), failure: false, duration: 20 })
    expect(summary.figures()).toMatchObject({ count: 2, sum: 60 })
  })

  it('after an outage of refused connections, the percentile hedge delay comes from the responses only', async () => {
    let up = false
    const fetch = async () => {
      if (!up) throw new TypeError('fetch failed: ECONNREFUSED')
      return new Response('ok')
    }
    const rf = createResilientFetch({ fetch, retry: false, fallback: false, breaker: false })
    for (let n = 0; n < 25; n++) await rf('https://api.test/x').catch(() => {})
    expect(rf.snapshot().latencies).toEqual([])
    up = true
    await (await rf('https://api.test/x')).text()
    expect(rf.snapshot().latencies).toMatchObject([{ key: 'https://api.test', samples: 1, count: 1 }])
  })
})
