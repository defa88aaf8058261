import { describe, expect, it } from 'vitest'
import { LATENCY_BUCKETS, LATENCY_SAMPLES, LatencySummary } from '../src/latency.js'

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
