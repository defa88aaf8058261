/**
 * README "Deadlines": a number is the attempt deadline and the total keeps its 30 s default; Infinity means no
 * deadline where it is written. So `timeout: Infinity` alone drops the attempt deadline only (the 30 s total
 * still ends the call), while `false`, or Infinity for both, arms none.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { TimeoutError, createResilientFetch } from '../src/index.js'
import { controlledTransport, flush } from './helpers.js'

const URL_A = 'https://a.test/x'

beforeEach(() => {
  vi.useFakeTimers({ now: 1_000_000 })
})
afterEach(() => {
  vi.useRealTimers()
})

function hanging(timeout: unknown) {
  const c = controlledTransport()
  const rf = createResilientFetch({ fetch: c.fetch, timeout: timeout as never, retry: false, fallback: false, breaker: false })
  let settled: unknown = 'pending'
  rf(URL_A).then(
    (response) => (settled = response.status),
    (error: unknown) => (settled = error),
  )
  return { c, settled: () => settled }
}

describe('README: Deadlines, Infinity', () => {
  it('timeout: Infinity drops the attempt deadline only: the 30 s default total still ends a hanging call', async () => {
    const { c, settled } = hanging(Infinity)
    await flush()
    vi.advanceTimersByTime(29_999)
    await flush()
    expect(settled()).toBe('pending')
    expect(c.pending[0]!.signal?.aborted).toBe(false)
    vi.advanceTimersByTime(1)
    await flush(20)
    expect(settled()).toBeInstanceOf(TimeoutError)
    expect(settled()).toMatchObject({ scope: 'total', timeout: 30_000 })
  })

  it.each([false, { attempt: Infinity, total: Infinity }])('timeout: %j arms no deadline: a call may hang for days', async (timeout) => {
    const { c, settled } = hanging(timeout)
    await flush()
    vi.advanceTimersByTime(10 * 86_400_000)
    await flush(20)
    expect(settled()).toBe('pending')
    c.pending[0]!.respond(200)
    await flush(20)
    expect(settled()).toBe(200)
  })
})
