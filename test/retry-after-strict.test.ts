/**
 * Retry-After is delay-seconds or an HTTP-date only (RFC 9110 §10.2.3): a value that is almost a date
 * (a month that is no month, a minute or second past the clock's, junk around a valid date) is ignored
 * like any other, a leap second (:60) is read, and an RFC 850 two-digit year more than 50 years ahead is in
 * the past century. And the wait before a retry ends at once when the caller has already aborted, and leaves
 * no listener on the caller's signal.
 */
import { getEventListeners } from 'node:events'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { createResilientFetch } from '../src/index.js'
import { parseRetryAfter, sleep } from '../src/retry.js'
import { flush } from './helpers.js'

const NOW = Date.UTC(2026, 0, 15, 12, 0, 0)

describe('Retry-After values that are almost HTTP-dates', () => {
  it.each([
    'Thu, 15 Foo 2026 12:00:30 GMT',
    // Letters across two month names ('an' of Jan, 'F' of Feb).
    'Thu, 15 anF 2026 12:00:30 GMT',
    'Thu, 15 Jan 2026 12:60:00 GMT',
    'Thu, 15 Jan 2026 12:00:61 GMT',
    'Thu, 15 Jan 2026 12:00:30 GMT junk',
    'junk Thu, 15 Jan 2026 12:00:30 GMT',
    'Thursday, 15-Jan-26 12:00:30 GMT junk',
    'junk Thursday, 15-Jan-26 12:00:30 GMT',
    'Thu Jan 15 12:00:30 2026 junk',
    'junk Thu Jan 15 12:00:30 2026',
  ])('ignores %j', (value) => {
    expect(parseRetryAfter(value, NOW)).toBeUndefined()
  })

  it('a valid date in the same forms is read (the cases above fail only for what is wrong in them)', () => {
    expect(parseRetryAfter('Thu, 15 Feb 2026 12:00:30 GMT', NOW)).toBe(Date.UTC(2026, 1, 15, 12, 0, 30) - NOW)
    expect(parseRetryAfter('Thu, 15 Jan 2026 12:59:59 GMT', NOW)).toBe(59 * 60_000 + 59_000)
    expect(parseRetryAfter('Thursday, 15-Jan-26 12:00:30 GMT', NOW)).toBe(30_000)
    expect(parseRetryAfter('Thu Jan 15 12:00:30 2026', NOW)).toBe(30_000)
  })

  it('a leap second (:60) is a second the grammar allows (23:59:60): read as :59', () => {
    expect(parseRetryAfter('Thu, 15 Jan 2026 12:00:60 GMT', NOW)).toBe(59_000)
  })

  it('an RFC 850 year more than 50 years ahead is read in the past century: a date in the past means now', () => {
    // 99 → 1999, not 2099 (nor 2199).
    expect(parseRetryAfter('Friday, 31-Dec-99 23:59:59 GMT', NOW)).toBe(0)
    // 30 → 2030: within 50 years, ahead.
    expect(parseRetryAfter('Tuesday, 15-Jan-30 12:00:00 GMT', NOW)).toBe(Date.UTC(2030, 0, 15, 12) - NOW)
    // 76 → 2076: exactly 50 years ahead is not more than 50, so still ahead.
    expect(parseRetryAfter('Wednesday, 15-Jan-76 12:00:00 GMT', NOW)).toBe(Date.UTC(2076, 0, 15, 12) - NOW)
  })
})

describe('the wait before a retry', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: NOW })
  })
  afterEach(() => {
    vi.useRealTimers()
  })

  it('sleep with a signal aborted already rejects at once with its reason, arming no timer', async () => {
    const reason = new Error('gone')
    const slept = sleep(10_000, AbortSignal.abort(reason))
    await expect(slept).rejects.toBe(reason)
    expect(vi.getTimerCount()).toBe(0)
  })

  it("a long-lived caller signal keeps no abort listener of a retry's wait once the call has ended", async () => {
    const controller = new AbortController()
    const fetch = vi.fn(async () => new Response('', { status: fetch.mock.calls.length === 1 ? 503 : 200 }))
    const rf = createResilientFetch({ fetch, fallback: false, timeout: false, retry: { limit: 2, backoff: { base: 5_000, jitter: 'none' } } })
    const pending = rf('https://a.test/x', { signal: controller.signal })
    await vi.advanceTimersByTimeAsync(5_000)
    expect((await pending).status).toBe(200)
    expect(fetch).toHaveBeenCalledTimes(2)
    expect(getEventListeners(controller.signal, 'abort')).toEqual([])
  })

  it('a caller that aborts as a retryable answer arrives gets its abort at once, not after the backoff, and no retry', async () => {
    const controller = new AbortController()
    const reason = new Error('caller left')
    const fetch = vi.fn(async () => {
      controller.abort(reason)
      return new Response('busy', { status: 503 })
    })
    const rf = createResilientFetch({ fetch, fallback: false, timeout: false, retry: { limit: 2, backoff: { base: 5_000, jitter: 'none' } } })
    let settled: unknown
    rf('https://a.test/x', { signal: controller.signal }).then(
      (response) => (settled = response),
      (error) => (settled = error),
    )
    await flush(20)
    expect(settled).toBe(reason)
    expect(fetch).toHaveBeenCalledTimes(1)
  })
})
