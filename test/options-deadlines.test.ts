/**
 * An attempt deadline past the total one never fires (the total cuts every attempt first): it is refused whether it is
 * written as a number or as `{ attempt }`, on the instance and per call; a total written alone may be shorter than the
 * attempt deadline it keeps (a call that must end sooner).
 */
import { describe, expect, it } from 'vitest'
import { createResilientFetch } from '../src/index.js'

function make(timeout?: unknown) {
  const calls: string[] = []
  const rf = createResilientFetch({ fetch: async (input) => (calls.push(String(input)), new Response('ok')), fallback: false, ...(timeout === undefined ? {} : { timeout: timeout as never }) })
  return { rf, calls }
}

describe('an attempt deadline past the total one', () => {
  it('{ attempt } alone past the default total is refused at creation, as the same number is', () => {
    expect(() => make({ attempt: 60_000 })).toThrow(new RangeError('timeout.attempt (60000 ms) must not exceed the total deadline (30000 ms by default)'))
    expect(() => make(60_000)).toThrow(new RangeError('timeout (60000 ms) must not exceed the total deadline (30000 ms by default)'))
    expect(() => make({ attempt: 30_000 })).not.toThrow()
    expect(() => make({ attempt: 60_000, total: false })).not.toThrow()
  })

  it('per call, { attempt } past the instance total is refused before anything is sent, as the same number is', async () => {
    const { rf, calls } = make({ attempt: 1_000, total: 2_000 })
    await expect(rf('https://a.test/', { resilience: { timeout: 5_000 } })).rejects.toThrow(
      new RangeError('resilience.timeout (5000 ms) must not exceed the total deadline (2000 ms on the instance)'),
    )
    await expect(rf('https://a.test/', { resilience: { timeout: { attempt: 5_000 } } })).rejects.toThrow(
      new RangeError('resilience.timeout.attempt (5000 ms) must not exceed the total deadline (2000 ms on the instance)'),
    )
    expect(calls).toEqual([])
    expect((await rf('https://a.test/', { resilience: { timeout: { attempt: 2_000 } } })).status).toBe(200)
    expect((await rf('https://a.test/', { resilience: { timeout: { attempt: 5_000, total: 5_000 } } })).status).toBe(200)
    expect(calls).toHaveLength(2)
  })

  it('a total written alone may be shorter than the attempt deadline it keeps', async () => {
    const { rf } = make({ attempt: 1_000, total: 2_000 })
    expect((await rf('https://a.test/', { resilience: { timeout: { total: 500 } } })).status).toBe(200)
    expect(() => make({ total: 5_000 })).not.toThrow()
  })
})
