import type { BreakerState, LatencySnapshot, ResilienceSnapshot } from '../types.js'
import { is, struct } from '../schema.js'

export interface PrometheusOptions {
  /** Prepended to every metric name; must itself be a valid metric name prefix. @default 'resilient_fetch_' */
  prefix?: string
}

type Sample = [labels: string, value: number]

const STATES: readonly BreakerState[] = ['closed', 'open', 'half-open', 'forced-open', 'disabled']
const PREFIX = /^(?:[a-zA-Z_:][a-zA-Z0-9_:]*)?$/

/** toPrometheus's options, as a schema: a typo, or a prefix given as the options themselves, is named rather than ignored. */
const prometheusSchema = /* @__PURE__ */ struct({
  prefix: [/* @__PURE__ */ is<string>((value) => typeof value === 'string' && PREFIX.test(value), 'a string matching [a-zA-Z_:][a-zA-Z0-9_:]* or empty', true), 'resilient_fetch_'],
})

/**
 * Renders a snapshot in the Prometheus text exposition format 0.0.4.
 *
 * Families (with the default prefix `resilient_fetch_`):
 * - `breaker_state{key,state}` gauge: 1 for the key's current state, 0 for the four others
 * - `breaker_calls`, `breaker_failures`, `breaker_slow_calls`, `breaker_failure_rate` gauges per key (the current window)
 * - `breaker_rejected_total`, `breaker_transitions_total` counters per key
 * - `bulkhead_active`, `bulkhead_queued`, `bulkhead_max_concurrent`, `bulkhead_max_queue` gauges and
 *   `bulkhead_rejected_total` counter per key
 * - `requests_total`: every call; `request_outcomes_total{outcome="success|failure|rejected"}`: how calls ended
 *   (a separate family, since the outcomes need not add up to the calls, e.g. while some are in flight)
 * - `retries_total` (attempts after the first), `timeouts_total` (attempts that hit a deadline), `fallbacks_total`,
 *   `hedges_total` (hedge attempts started), `throttled_total` (attempts shed by adaptive throttling),
 *   `coalesced_total` (calls that joined an identical call in flight)
 * - `attempt_duration_seconds{key}` histogram: each attempt's time to response headers
 *
 * @example
 * return new Response(toPrometheus(rf.snapshot()), { headers: { 'content-type': CONTENT_TYPE } })
 */
export function toPrometheus(snapshot: ResilienceSnapshot, options?: PrometheusOptions): string {
  if (snapshot === null || typeof snapshot !== 'object' || !Array.isArray(snapshot.breakers) || !Array.isArray(snapshot.bulkheads) || snapshot.totals === null || typeof snapshot.totals !== 'object') {
    throw new TypeError(`snapshot must be a ResilienceSnapshot (rf.snapshot()), got ${describe(snapshot)}`)
  }
  const { prefix } = prometheusSchema(options, 'toPrometheus options')

  const { breakers, bulkheads, totals } = snapshot
  const latencies = snapshot.latencies ?? []
  let out = ''
  const family = (name: string, type: 'gauge' | 'counter', help: string, samples: Sample[]): void => {
    out += `# HELP ${prefix}${name} ${help}\n# TYPE ${prefix}${name} ${type}\n`
    for (const [labels, value] of samples) {
      if (typeof value !== 'number') throw new TypeError(`snapshot value of ${name}${labels} must be a number, got ${describe(value)}`)
      out += `${prefix}${name}${labels} ${formatValue(value)}\n`
    }
  }
  const perKey = <T extends { key: string }>(items: T[], value: (item: T) => number): Sample[] =>
    items.map((item) => [`{key="${escapeLabel(item.key)}"}`, value(item)])

  family('breaker_state', 'gauge', 'Breaker state per key: 1 for the current state, 0 for the others.',
    breakers.flatMap((b) => STATES.map((state): Sample => [`{key="${escapeLabel(b.key)}",state="${state}"}`, b.state === state ? 1 : 0])))
  family('breaker_calls', 'gauge', 'Attempts in the breaker window.', perKey(breakers, (b) => b.calls))
  family('breaker_failures', 'gauge', 'Failed attempts in the breaker window.', perKey(breakers, (b) => b.failures))
  family('breaker_slow_calls', 'gauge', 'Slow attempts in the breaker window.', perKey(breakers, (b) => b.slowCalls))
  family('breaker_failure_rate', 'gauge', 'Failures divided by attempts in the breaker window (0..1).', perKey(breakers, (b) => b.failureRate))
  family('breaker_rejected_total', 'counter', 'Attempts refused by the breaker since the key was created.', perKey(breakers, (b) => b.rejected))
  family('breaker_transitions_total', 'counter', 'Breaker state changes since the key was created.', perKey(breakers, (b) => b.transitions))

  family('bulkhead_active', 'gauge', 'Attempts in flight per key.', perKey(bulkheads, (b) => b.active))
  family('bulkhead_queued', 'gauge', 'Calls waiting in the bulkhead queue per key.', perKey(bulkheads, (b) => b.queued))
  family('bulkhead_max_concurrent', 'gauge', 'Configured attempts in flight per key.', perKey(bulkheads, (b) => b.maxConcurrent))
  family('bulkhead_max_queue', 'gauge', 'Configured queue length per key.', perKey(bulkheads, (b) => b.maxQueue))
  family('bulkhead_rejected_total', 'counter', 'Calls refused by the bulkhead since the key was created.', perKey(bulkheads, (b) => b.rejected))

  family('requests_total', 'counter', 'Calls made.', [['', totals.requests]])
  family('request_outcomes_total', 'counter', 'Calls ended, by outcome.', [
    ['{outcome="success"}', totals.successes],
    ['{outcome="failure"}', totals.failures],
    ['{outcome="rejected"}', totals.rejected],
  ])
  family('retries_total', 'counter', 'Attempts after the first.', [['', totals.retries]])
  family('timeouts_total', 'counter', 'Attempts that hit a deadline.', [['', totals.timeouts]])
  family('fallbacks_total', 'counter', 'Calls served a stored fallback copy.', [['', totals.fallbacks]])
  family('hedges_total', 'counter', 'Hedge attempts started.', [['', totals.hedges ?? 0]])
  family('throttled_total', 'counter', 'Attempts shed locally by adaptive throttling.', [['', totals.throttled ?? 0]])
  family('coalesced_total', 'counter', 'Calls that joined an identical call in flight instead of sending.', [['', totals.coalesced ?? 0]])
  out += histogram(`${prefix}attempt_duration_seconds`, 'Attempt time to response headers, seconds.', latencies)
  return out
}

/** A histogram family per key: cumulative buckets (ms bounds as seconds), then +Inf, sum and count. */
function histogram(name: string, help: string, latencies: LatencySnapshot[]): string {
  let out = `# HELP ${name} ${help}\n# TYPE ${name} histogram\n`
  for (const l of latencies) {
    // An entry with only the figures API.md names (no buckets) has no histogram to write.
    if (!Array.isArray(l.le) || !Array.isArray(l.buckets)) continue
    const key = `key="${escapeLabel(l.key)}"`
    // Checked like every other figure: a damaged entry throws, naming it, rather than writing `undefined` into the text.
    const at = (what: string, value: unknown): number => {
      if (typeof value !== 'number') throw new TypeError(`snapshot value of ${name}{${key}} ${what} must be a number, got ${describe(value)}`)
      return value
    }
    if (l.buckets.length !== l.le.length) throw new TypeError(`snapshot value of ${name}{${key}} buckets must have one count per le bound (${l.le.length}), got ${l.buckets.length}`)
    for (let i = 0; i < l.le.length; i++) out += `${name}_bucket{${key},le="${formatValue(at('le', l.le[i]) / 1000)}"} ${formatValue(at('buckets', l.buckets[i]))}\n`
    out += `${name}_bucket{${key},le="+Inf"} ${formatValue(at('count', l.count))}\n`
    out += `${name}_sum{${key}} ${formatValue(at('sum', l.sum) / 1000)}\n${name}_count{${key}} ${formatValue(l.count)}\n`
  }
  return out
}

/** The Content-Type of the text this module renders. */
export const CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8'

function escapeLabel(value: string): string {
  return String(value).replace(/[\\"\n]/g, (c) => (c === '\n' ? '\\n' : `\\${c}`))
}

// The exposition format spells the special floats its own way.
function formatValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN'
  if (value === Infinity) return '+Inf'
  if (value === -Infinity) return '-Inf'
  return String(value)
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value)
  if (value === null || typeof value !== 'object') return String(value)
  return Array.isArray(value) ? 'an array' : 'an object without breakers, bulkheads and totals'
}
