import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { buildChain } from '../../src/fetch.js'
import { normalizeOptions } from '../../src/options.js'
import { testRuntime } from './helpers.js'

const README = readFileSync(new URL('../../README.md', import.meta.url), 'utf8')

describe('the chain', () => {
  it('runs its stages in the order the README gives, outer to inner', () => {
    const line = /outer to inner: (.*)/.exec(README)![1]!
    const documented = line.split('→').map((name) => name.trim())
    expect(documented).toEqual(['fallback', 'total deadline', 'retry', 'bulkhead', 'breaker', 'attempt deadline', 'transport'])
    const { chain } = buildChain(normalizeOptions({}), testRuntime().runtime)
    expect(chain.order).toEqual(documented)
  })

  it('leaves out what is off: it costs nothing', () => {
    const { chain } = buildChain(normalizeOptions({ fallback: false, breaker: false, bulkhead: false }), testRuntime().runtime)
    expect(chain.order).toEqual(['total deadline', 'retry', 'attempt deadline', 'transport'])
  })
})
