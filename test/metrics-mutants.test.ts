/** toPrometheus where the other suites left it loose: which snapshots and prefixes it refuses and how it names them, infinite values, and latency entries half without buckets. */
import { describe, expect, it } from 'vitest'
import { toPrometheus } from '../src/metrics/prometheus.js'
import type { ResilienceSnapshot } from '../src/types.js'

const empty: ResilienceSnapshot = {
  at: 0,
  breakers: [],
  bulkheads: [],
  totals: { requests: 3, successes: 3, failures: 0, rejected: 0, timeouts: 0, retries: 0, fallbacks: 0, hedges: 0, throttled: 0, coalesced: 0 },
  latencies: [],
}
const notSnapshot = (got: string) => new TypeError(`snapshot must be a ResilienceSnapshot (rf.snapshot()), got ${got}`)
const entry = { key: 'k', samples: 2, p50: 4, p90: 9, p99: 9, count: 2, sum: 13, buckets: [1, 2], le: [5, 10] }

describe('toPrometheus refuses what is not a snapshot', () => {
  it('names null, an array, an object and a string each its own way', () => {
    expect(() => toPrometheus(null as never)).toThrow(notSnapshot('null'))
    expect(() => toPrometheus([] as never)).toThrow(notSnapshot('an array'))
    expect(() => toPrometheus({ breakers: [] } as never)).toThrow(notSnapshot('an object without breakers, bulkheads and totals'))
    expect(() => toPrometheus('snap' as never)).toThrow(notSnapshot('"snap"'))
    expect(() => toPrometheus(7 as never)).toThrow(notSnapshot('7'))
  })

  it('refuses totals that are null or not an object, naming the snapshot rather than a figure', () => {
    expect(() => toPrometheus({ ...empty, totals: null } as never)).toThrow(notSnapshot('an object without breakers, bulkheads and totals'))
    expect(() => toPrometheus({ ...empty, totals: 5 } as never)).toThrow(notSnapshot('an object without breakers, bulkheads and totals'))
  })
})

describe('toPrometheus prefix', () => {
  it('refuses a prefix that is not a string even where its text would match', () => {
    const bad = (got: string) => new TypeError(`toPrometheus options.prefix must be a string matching [a-zA-Z_:][a-zA-Z0-9_:]* or empty, got ${got}`)
    expect(() => toPrometheus(empty, { prefix: null } as never)).toThrow(bad('null'))
    expect(() => toPrometheus(empty, { prefix: ['edge_'] } as never)).toThrow(TypeError)
  })
})

describe('toPrometheus values', () => {
  it('spells infinities +Inf and -Inf', () => {
    const text = toPrometheus({ ...empty, totals: { ...empty.totals, retries: Infinity, timeouts: -Infinity } })
    expect(text).toContain('\nresilient_fetch_retries_total +Inf\n')
    expect(text).toContain('\nresilient_fetch_timeouts_total -Inf\n')
  })

  it('names the le bound or the bucket count that is not a number', () => {
    const at = 'snapshot value of resilient_fetch_attempt_duration_seconds{key="k"}'
    expect(() => toPrometheus({ ...empty, latencies: [{ ...entry, le: [5, '10'] } as never] })).toThrow(new TypeError(`${at} le must be a number, got "10"`))
    expect(() => toPrometheus({ ...empty, latencies: [{ ...entry, buckets: [1, '2'] } as never] })).toThrow(new TypeError(`${at} buckets must be a number, got "2"`))
  })

  it('skips a latency entry that has bounds but no buckets, or buckets but no bounds', () => {
    const { buckets: _b, ...noBuckets } = entry
    const { le: _le, ...noBounds } = entry
    const text = toPrometheus({ ...empty, latencies: [noBuckets as never, noBounds as never] })
    expect(text.endsWith('# TYPE resilient_fetch_attempt_duration_seconds histogram\n')).toBe(true)
  })
})
