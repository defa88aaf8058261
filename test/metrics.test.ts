import { describe, expect, it } from 'vitest'
import { createResilientFetch } from '../src/index.js'
import { CONTENT_TYPE, toPrometheus } from '../src/metrics/prometheus.js'
import type { ResilienceSnapshot } from '../src/types.js'

// A strict reader of the text exposition format 0.0.4: throws on anything the grammar does not allow.
const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*'
const LABEL = `[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\\\\n]|\\\\[\\\\"n])*"`
const VALUE = '(?:[+-]?(?:\\d+\\.?\\d*(?:[eE][+-]?\\d+)?|\\.\\d+(?:[eE][+-]?\\d+)?)|NaN|[+-]Inf)'
const SAMPLE = new RegExp(`^(${NAME})(?:\\{((?:${LABEL})(?:,${LABEL})*,?)?\\})? (${VALUE})(?: -?\\d+)?$`)
const HELP = new RegExp(`^# HELP (${NAME}) ((?:[^\\\\\\n]|\\\\[\\\\n])*)$`)
const TYPE = new RegExp(`^# TYPE (${NAME}) (counter|gauge|histogram|summary|untyped)$`)

interface Family { help?: string; type?: string; samples: { name: string; labels: Record<string, string>; value: number }[] }

function parse(text: string): Map<string, Family> {
  if (!text.endsWith('\n')) throw new Error('exposition must end with a newline')
  const families = new Map<string, Family>()
  const series = new Set<string>()
  let current: string | undefined
  const family = (name: string): Family => {
    let f = families.get(name)
    if (!f) families.set(name, (f = { samples: [] }))
    return f
  }
  for (const line of text.slice(0, -1).split('\n')) {
    let m: RegExpMatchArray | null
    if ((m = line.match(HELP))) {
      const f = family(m[1])
      if (f.help !== undefined || f.samples.length) throw new Error(`HELP for ${m[1]} repeated or after its samples`)
      f.help = m[2]
      current = m[1]
    } else if ((m = line.match(TYPE))) {
      const f = family(m[1])
      if (f.type !== undefined || f.samples.length) throw new Error(`TYPE for ${m[1]} repeated or after its samples`)
      f.type = m[2]
      current = m[1]
    } else if ((m = line.match(SAMPLE))) {
      const [, sampleName = '', rawLabels = '', rawValue] = m
      // A histogram's samples are its name with _bucket, _sum or _count.
      const histogram = current !== undefined && families.get(current)?.type === 'histogram'
      const name: string = histogram && /^(.*)_(bucket|sum|count)$/.exec(sampleName)?.[1] === current ? current! : sampleName
      if (name !== current) throw new Error(`sample ${sampleName} outside its family block (current ${current})`)
      const f = families.get(name)!
      if (f.help === undefined || f.type === undefined) throw new Error(`sample ${name} before its HELP and TYPE`)
      const labels: Record<string, string> = {}
      for (const [, k, v] of rawLabels.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
        if (k in labels) throw new Error(`label ${k} repeated in ${line}`)
        labels[k] = v.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c))
      }
      if (histogram && sampleName.endsWith('_bucket') !== 'le' in labels) throw new Error(`histogram sample ${line} with le only on _bucket`)
      const id = `${sampleName}${JSON.stringify(Object.entries(labels).sort())}`
      if (series.has(id)) throw new Error(`series repeated: ${line}`)
      series.add(id)
      if (f.type === 'counter' && !name.endsWith('_total')) throw new Error(`counter ${name} without _total`)
      f.samples.push({ name: sampleName, labels, value: rawValue === 'NaN' ? NaN : rawValue === '+Inf' ? Infinity : rawValue === '-Inf' ? -Infinity : Number(rawValue) })
    } else {
      throw new Error(`line matches no rule of the grammar: ${JSON.stringify(line)}`)
    }
  }
  return families
}

function value(families: Map<string, Family>, name: string, labels: Record<string, string> = {}, sample = name): number | undefined {
  return families.get(name)?.samples.find((s) => s.name === sample && JSON.stringify(Object.entries(s.labels).sort()) === JSON.stringify(Object.entries(labels).sort()))?.value
}

const weirdKey = 'https://a.example/"q"\\path\nnext'

const snapshot: ResilienceSnapshot = {
  at: 1_700_000_000_000,
  breakers: [
    { key: 'https://api.example', state: 'open', calls: 12, failures: 7, slowCalls: 2, failureRate: 7 / 12, rejected: 40, transitions: 3, openedAt: 1_699_999_990_000, nextProbeAt: 1_700_000_020_000 },
    { key: weirdKey, state: 'half-open', calls: 0, failures: 0, slowCalls: 0, failureRate: 0, rejected: 0, transitions: 2 },
  ],
  bulkheads: [
    { key: 'https://api.example', active: 5, queued: 3, maxConcurrent: 50, maxQueue: 100, rejected: 9 },
    { key: weirdKey, active: 0, queued: 0, maxConcurrent: 1, maxQueue: 0, rejected: 1 },
  ],
  totals: { requests: 1000, successes: 900, failures: 55, rejected: 40, timeouts: 11, retries: 22, fallbacks: 6, hedges: 8, throttled: 3, coalesced: 4 },
  latencies: [
    { key: 'https://api.example', samples: 4, p50: 20, p90: 700, p99: 700, count: 4, sum: 745, buckets: [0, 1, 2, 2, 2, 2, 2, 3, 3, 3, 3], le: [5, 10, 25, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000] },
    { key: weirdKey, samples: 1, p50: 12_000, p90: 12_000, p99: 12_000, count: 1, sum: 12_000, buckets: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], le: [5, 10, 25, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000] },
  ],
}

const empty: ResilienceSnapshot = {
  at: 0,
  breakers: [],
  bulkheads: [],
  totals: { requests: 0, successes: 0, failures: 0, rejected: 0, timeouts: 0, retries: 0, fallbacks: 0, hedges: 0, throttled: 0, coalesced: 0 },
  latencies: [],
}

describe('toPrometheus', () => {
  it('writes only lines of the exposition grammar, HELP and TYPE once per family before its samples', () => {
    const families = parse(toPrometheus(snapshot))
    expect([...families.keys()].sort()).toEqual([
      'resilient_fetch_attempt_duration_seconds',
      'resilient_fetch_breaker_calls',
      'resilient_fetch_breaker_failure_rate',
      'resilient_fetch_breaker_failures',
      'resilient_fetch_breaker_rejected_total',
      'resilient_fetch_breaker_slow_calls',
      'resilient_fetch_breaker_state',
      'resilient_fetch_breaker_transitions_total',
      'resilient_fetch_bulkhead_active',
      'resilient_fetch_bulkhead_max_concurrent',
      'resilient_fetch_bulkhead_max_queue',
      'resilient_fetch_bulkhead_queued',
      'resilient_fetch_bulkhead_rejected_total',
      'resilient_fetch_coalesced_total',
      'resilient_fetch_fallbacks_total',
      'resilient_fetch_hedges_total',
      'resilient_fetch_request_outcomes_total',
      'resilient_fetch_requests_total',
      'resilient_fetch_retries_total',
      'resilient_fetch_throttled_total',
      'resilient_fetch_timeouts_total',
    ])
    for (const [name, f] of families) {
      expect(f.help, name).toMatch(/\S/)
      expect(f.type, name).toBe(name.endsWith('_total') ? 'counter' : name.endsWith('_seconds') ? 'histogram' : 'gauge')
    }
  })

  it('gives each key one state series per state, 1 for the current state only', () => {
    const families = parse(toPrometheus(snapshot))
    const states = ['closed', 'open', 'half-open', 'forced-open', 'disabled']
    for (const [key, current] of [['https://api.example', 'open'], [weirdKey, 'half-open']]) {
      for (const state of states) {
        expect(value(families, 'resilient_fetch_breaker_state', { key, state }), `${key} ${state}`).toBe(state === current ? 1 : 0)
      }
    }
    expect(families.get('resilient_fetch_breaker_state')!.samples).toHaveLength(10)
  })

  it('reports every breaker, bulkhead and total figure', () => {
    const f = parse(toPrometheus(snapshot))
    const key = 'https://api.example'
    expect(value(f, 'resilient_fetch_breaker_calls', { key })).toBe(12)
    expect(value(f, 'resilient_fetch_breaker_failures', { key })).toBe(7)
    expect(value(f, 'resilient_fetch_breaker_slow_calls', { key })).toBe(2)
    expect(value(f, 'resilient_fetch_breaker_failure_rate', { key })).toBe(7 / 12)
    expect(value(f, 'resilient_fetch_breaker_rejected_total', { key })).toBe(40)
    expect(value(f, 'resilient_fetch_breaker_transitions_total', { key })).toBe(3)
    expect(value(f, 'resilient_fetch_breaker_transitions_total', { key: weirdKey })).toBe(2)
    expect(value(f, 'resilient_fetch_bulkhead_active', { key })).toBe(5)
    expect(value(f, 'resilient_fetch_bulkhead_queued', { key })).toBe(3)
    expect(value(f, 'resilient_fetch_bulkhead_max_concurrent', { key })).toBe(50)
    expect(value(f, 'resilient_fetch_bulkhead_max_queue', { key })).toBe(100)
    expect(value(f, 'resilient_fetch_bulkhead_rejected_total', { key })).toBe(9)
    expect(value(f, 'resilient_fetch_bulkhead_rejected_total', { key: weirdKey })).toBe(1)
    expect(value(f, 'resilient_fetch_requests_total')).toBe(1000)
    expect(value(f, 'resilient_fetch_request_outcomes_total', { outcome: 'success' })).toBe(900)
    expect(value(f, 'resilient_fetch_request_outcomes_total', { outcome: 'failure' })).toBe(55)
    expect(value(f, 'resilient_fetch_request_outcomes_total', { outcome: 'rejected' })).toBe(40)
    expect(value(f, 'resilient_fetch_retries_total')).toBe(22)
    expect(value(f, 'resilient_fetch_timeouts_total')).toBe(11)
    expect(value(f, 'resilient_fetch_fallbacks_total')).toBe(6)
  })

  it('writes a per-key attempt duration histogram: cumulative buckets in seconds, +Inf = count, sum in seconds', () => {
    const f = parse(toPrometheus(snapshot))
    const name = 'resilient_fetch_attempt_duration_seconds'
    const key = 'https://api.example'
    expect(value(f, name, { key, le: '0.005' }, `${name}_bucket`)).toBe(0)
    expect(value(f, name, { key, le: '0.01' }, `${name}_bucket`)).toBe(1)
    expect(value(f, name, { key, le: '1' }, `${name}_bucket`)).toBe(3)
    expect(value(f, name, { key, le: '+Inf' }, `${name}_bucket`)).toBe(4)
    expect(value(f, name, { key }, `${name}_count`)).toBe(4)
    expect(value(f, name, { key }, `${name}_sum`)).toBe(0.745)
    expect(value(f, name, { key: weirdKey, le: '+Inf' }, `${name}_bucket`)).toBe(1)
    expect(f.get(name)!.samples.filter((s) => s.name === `${name}_bucket` && s.labels.key === key)).toHaveLength(12)
    expect(value(f, 'resilient_fetch_hedges_total')).toBe(8)
    expect(value(f, 'resilient_fetch_throttled_total')).toBe(3)
    expect(value(f, 'resilient_fetch_coalesced_total')).toBe(4)
  })

  it('skips the histogram of a latency entry with only the figures API.md names (no buckets), and writes the rest', () => {
    const plain = { key: 'https://plain.example', samples: 3, p50: 10, p90: 20, p99: 30 }
    const text = toPrometheus({ ...snapshot, latencies: [plain as never, ...snapshot.latencies] })
    const f = parse(text)
    const name = 'resilient_fetch_attempt_duration_seconds'
    expect(f.get(name)!.samples.some((s) => s.labels.key === plain.key)).toBe(false)
    expect(value(f, name, { key: 'https://api.example' }, `${name}_count`)).toBe(4)
  })

  it('escapes backslash, double quote and newline in label values', () => {
    const text = toPrometheus(snapshot)
    expect(text).toContain('key="https://a.example/\\"q\\"\\\\path\\nnext"')
    // Every physical line is a whole line of the format: the raw newline in the key never leaks.
    expect(text.split('\n').some((line) => line.startsWith('next'))).toBe(false)
    const families = parse(text)
    expect(families.get('resilient_fetch_breaker_calls')!.samples.map((s) => s.labels.key)).toEqual(['https://api.example', weirdKey])
  })

  it('ends with a newline and writes special floats the way the format spells them', () => {
    const text = toPrometheus({ ...snapshot, breakers: [{ ...snapshot.breakers[0], failureRate: NaN }] })
    expect(text.endsWith('\n')).toBe(true)
    expect(text).toContain('resilient_fetch_breaker_failure_rate{key="https://api.example"} NaN\n')
    expect(Number.isNaN(value(parse(text), 'resilient_fetch_breaker_failure_rate', { key: 'https://api.example' }))).toBe(true)
  })

  it('renders an empty snapshot as families without samples and zero totals', () => {
    const f = parse(toPrometheus(empty))
    expect(f.get('resilient_fetch_breaker_state')!.samples).toEqual([])
    expect(f.get('resilient_fetch_bulkhead_active')!.samples).toEqual([])
    expect(value(f, 'resilient_fetch_requests_total')).toBe(0)
  })

  it('uses the prefix given, including none', () => {
    const custom = parse(toPrometheus(snapshot, { prefix: 'edge:rf_' }))
    expect(value(custom, 'edge:rf_requests_total')).toBe(1000)
    expect([...custom.keys()].every((name) => name.startsWith('edge:rf_'))).toBe(true)
    const bare = parse(toPrometheus(snapshot, { prefix: '' }))
    expect(value(bare, 'breaker_calls', { key: 'https://api.example' })).toBe(12)
  })

  it('rejects a prefix that would make invalid metric names, naming it', () => {
    expect(() => toPrometheus(snapshot, { prefix: 'my-app_' })).toThrow(/prefix .*"my-app_"/)
    expect(() => toPrometheus(snapshot, { prefix: '9lives_' })).toThrow(TypeError)
    expect(() => toPrometheus(snapshot, { prefix: 42 as unknown as string })).toThrow(/prefix .*42/)
  })

  it('rejects something that is not a snapshot, naming it', () => {
    expect(() => toPrometheus(undefined as unknown as ResilienceSnapshot)).toThrow(/snapshot .*undefined/)
    expect(() => toPrometheus({ breakers: [] } as unknown as ResilienceSnapshot)).toThrow(TypeError)
    const broken = { ...empty, totals: { ...empty.totals, retries: '3' } } as unknown as ResilienceSnapshot
    expect(() => toPrometheus(broken)).toThrow(/retries_total must be a number, got "3"/)
  })

  it('renders a live instance\'s snapshot: an opened breaker, its rejections and the totals', async () => {
    let hits = 0
    const rf = createResilientFetch({
      fetch: async () => new Response(null, { status: hits++ < 2 ? 200 : 500 }),
      breaker: { window: 'consecutive', failureThreshold: 2 },
      retry: false,
      fallback: false,
    })
    for (let i = 0; i < 5; i++) await rf('https://live.example/x').catch(() => {})
    const f = parse(toPrometheus(rf.snapshot()))
    const key = 'https://live.example'
    expect(value(f, 'resilient_fetch_breaker_state', { key, state: 'open' })).toBe(1)
    expect(value(f, 'resilient_fetch_breaker_state', { key, state: 'closed' })).toBe(0)
    expect(value(f, 'resilient_fetch_breaker_rejected_total', { key })).toBe(1)
    expect(value(f, 'resilient_fetch_requests_total')).toBe(5)
    expect(value(f, 'resilient_fetch_request_outcomes_total', { outcome: 'success' })).toBe(2)
    expect(value(f, 'resilient_fetch_request_outcomes_total', { outcome: 'failure' })).toBe(2)
    expect(value(f, 'resilient_fetch_request_outcomes_total', { outcome: 'rejected' })).toBe(1)
    expect(value(f, 'resilient_fetch_bulkhead_active', { key })).toBe(0)
  })

  it('names the content type of the format it writes', () => {
    expect(CONTENT_TYPE).toBe('text/plain; version=0.0.4; charset=utf-8')
  })
})
