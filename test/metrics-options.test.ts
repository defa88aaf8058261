/** toPrometheus on input it must refuse (which snapshots and prefixes, and how it names them; infinite values; latency entries half without buckets): options go through the schema (a typo or a misplaced prefix is named, never silently replaced by the default), and a damaged figure throws naming it. */
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

describe('toPrometheus options', () => {
  it('refuses an unknown option, naming it and the known one', () => {
    expect(() => toPrometheus(empty, { prefx: 'edge_' } as never)).toThrow(new TypeError('toPrometheus options.prefx is not an option (known: prefix)'))
  })

  it('refuses a prefix given as the options themselves, or options that are not an object', () => {
    expect(() => toPrometheus(empty, 'edge_' as never)).toThrow(new TypeError('toPrometheus options must be an object, got "edge_"'))
    expect(() => toPrometheus(empty, null as never)).toThrow(/toPrometheus options must be an object, got null/)
  })

  it('names the option path and the value of a bad prefix', () => {
    expect(() => toPrometheus(empty, { prefix: 'my-app_' })).toThrow(new TypeError('toPrometheus options.prefix must be a string matching [a-zA-Z_:][a-zA-Z0-9_:]* or empty, got "my-app_"'))
  })

  it('still takes no options, an empty object, or a prefix left undefined: the default prefix', () => {
    for (const options of [undefined, {}, { prefix: undefined }]) expect(toPrometheus(empty, options)).toContain('\nresilient_fetch_requests_total 3\n')
    expect(toPrometheus(empty, { prefix: 'edge_' })).toContain('\nedge_requests_total 3\n')
  })
})

describe('toPrometheus on a damaged latency entry', () => {
  const le = [5, 10]
  const entry = { key: 'https://a.example', samples: 2, p50: 4, p90: 9, p99: 9, count: 2, sum: 13, buckets: [1, 2], le }

  it('throws naming the figure, as for every other figure, instead of writing `undefined` into the exposition', () => {
    const { count: _count, ...noCount } = entry
    expect(() => toPrometheus({ ...empty, latencies: [noCount as never] })).toThrow(new TypeError('snapshot value of resilient_fetch_attempt_duration_seconds{key="https://a.example"} count must be a number, got undefined'))
    expect(() => toPrometheus({ ...empty, latencies: [{ ...entry, sum: '13' } as never] })).toThrow(/attempt_duration_seconds\{key="https:\/\/a\.example"\} sum must be a number, got "13"/)
    expect(() => toPrometheus({ ...empty, latencies: [{ ...entry, buckets: [1] }] })).toThrow(/buckets must have one count per le bound \(2\), got 1/)
  })

  it('writes a whole entry as before', () => {
    const text = toPrometheus({ ...empty, latencies: [entry] })
    expect(text).toContain('resilient_fetch_attempt_duration_seconds_bucket{key="https://a.example",le="0.01"} 2\n')
    expect(text).toContain('resilient_fetch_attempt_duration_seconds_sum{key="https://a.example"} 0.013\n')
    expect(text).not.toContain('undefined')
  })
})

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
