import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { buildChain } from '../../src/fetch.js'
import { orderOf } from '../../src/stages/pipeline.js'
import { normalizeOptions } from '../../src/options.js'
import { testRuntime } from './helpers.js'

const README = readFileSync(new URL('../../README.md', import.meta.url), 'utf8')

/** The stages that decide something: all but the latency gate, which only measures. */
const policies = (order: readonly string[]) => order.filter((name) => name !== 'latency')

describe('the chain', () => {
  it('runs its stages in the order the README gives, outer to inner', () => {
    const line = /outer to inner: (.*)/.exec(README)![1]!
    const documented = line.split('→').map((name) => name.trim())
    expect(documented).toEqual(['fallback', 'total deadline', 'retry', 'bulkhead', 'breaker', 'attempt deadline', 'transport'])
    const { chain } = buildChain(normalizeOptions({}), testRuntime().runtime)
    expect(policies(orderOf(chain))).toEqual(documented)
    // The latency gate only measures (it admits every attempt): innermost of the gates, it sees each attempt's time to headers.
    expect(orderOf(chain).slice(-3)).toEqual(['latency', 'attempt deadline', 'transport'])
  })

  it('adds the stages that are off by default where they belong, only when on', () => {
    const { chain } = buildChain(normalizeOptions({ coalesce: true, hedge: {}, throttle: {} }), testRuntime().runtime)
    expect(policies(orderOf(chain))).toEqual(['coalesce', 'fallback', 'total deadline', 'retry', 'hedge', 'throttle', 'bulkhead', 'breaker', 'attempt deadline', 'transport'])
    // The hedge reads a key's latency summary as the key's last state: the latency gate stays the last stage.
    expect(orderOf(chain).slice(-3)).toEqual(['latency', 'attempt deadline', 'transport'])
  })

  it('leaves out what is off: it costs nothing', () => {
    const { chain } = buildChain(normalizeOptions({ fallback: false, breaker: false, bulkhead: false }), testRuntime().runtime)
    expect(policies(orderOf(chain))).toEqual(['total deadline', 'retry', 'attempt deadline', 'transport'])
  })
})
