/** toPrometheus's options go through the schema: a typo or a misplaced prefix is named, never silently replaced by the default. */
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
