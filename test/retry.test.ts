import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import fc from 'fast-check'
import { CircuitOpenError, createResilientFetch, resilienceInfo, type ResilientFetchOptions } from '../src/index.js'
import { backoffDelay, parseRetryAfter } from '../src/retry.js'
import { normalizeRetry, retrySchema } from '../src/options.js'
import { controlledTransport, flush, statusTransport } from './helpers.js'

const URL_A = 'https://a.test/x'

beforeEach(() => {
  vi.useFakeTimers({ now: 1_000_000 })
})
afterEach(() => {
  vi.useRealTimers()
})

function make(fetch: typeof globalThis.fetch, options: ResilientFetchOptions = {}) {
  const rf = createResilientFetch({
    fetch,
    fallback: false,
    timeout: false,
    breaker: { failureThreshold: 100 },
    retry: { limit: 2, backoff: { base: 100, jitter: 'none' } },
    ...options,
  })
  const retries: string[] = []
  rf.addEventListener('retry', (e) => retries.push(`${e.detail.attempt}@${e.detail.delay}`))
  return { rf, retries }
}

async function settle<T>(p: Promise<T>): Promise<T> {
  await vi.runAllTimersAsync()
  return p
}

describe('retries', () => {
  it('retries a retryable status with exponential backoff and returns the last response', async () => {
    const t = statusTransport(503, 502, 500)
    const { rf, retries } = make(t.fetch)
    const response = await settle(rf(URL_A))
    expect(response.status).toBe(500)
    expect(await response.text()).toBe('s500')
    expect(t.mock).toHaveBeenCalledTimes(3)
    expect(retries).toEqual(['2@100', '3@200'])
    expect(resilienceInfo(response)).toEqual({ source: 'network', key: 'https://a.test', attempts: 3 })
    expect(rf.snapshot().totals).toMatchObject({ requests: 1, failures: 1, retries: 2 })
  })

  it('stops at the first good response', async () => {
    const t = statusTransport(503, 200)
    const { rf } = make(t.fetch)
    const response = await settle(rf(URL_A))
    expect(response.status).toBe(200)
    expect(rf.snapshot().totals).toMatchObject({ successes: 1, failures: 0, retries: 1 })
  })

  it('retries network errors and attempt timeouts, and throws the last error', async () => {
    const t = statusTransport(new TypeError('fetch failed'))
    const { rf } = make(t.fetch)
    const error = await settle(rf(URL_A).catch((e) => e))
    expect(error).toBeInstanceOf(TypeError)
    expect(t.mock).toHaveBeenCalledTimes(3)
  })

  it('never retries methods outside `methods`, nor statuses outside `statusCodes`', async () => {
    const post = statusTransport(503)
    await settle(make(post.fetch).rf(URL_A, { method: 'POST', body: 'x' }))
    expect(post.mock).toHaveBeenCalledTimes(1)
    const notFound = statusTransport(404)
    await settle(make(notFound.fetch).rf(URL_A))
    expect(notFound.mock).toHaveBeenCalledTimes(1)
    const patch = statusTransport(503)
    await settle(make(patch.fetch, { retry: { methods: ['patch'] } }).rf(URL_A, { method: 'PATCH' }))
    expect(patch.mock).toHaveBeenCalledTimes(3)
  })

  it('never retries a body it cannot replay (a stream)', async () => {
    const t = statusTransport(503)
    const body = new ReadableStream({ start: (c) => (c.enqueue(new Uint8Array([1])), c.close()) })
    await settle(make(t.fetch).rf(URL_A, { method: 'PUT', body, duplex: 'half' } as RequestInit))
    expect(t.mock).toHaveBeenCalledTimes(1)
  })

  it('resends a Request body intact on every attempt', async () => {
    const bodies: string[] = []
    const fetch = vi.fn(async (input: RequestInfo | URL) => {
      bodies.push(await (input as Request).text())
      return new Response(null, { status: bodies.length < 3 ? 503 : 200 })
    })
    const { rf } = make(fetch as never)
    const response = await settle(rf(new Request(URL_A, { method: 'PUT', body: 'payload' })))
    expect(response.status).toBe(200)
    expect(bodies).toEqual(['payload', 'payload', 'payload'])
  })

  it('honours Retry-After (seconds and HTTP-date) and gives up when it exceeds maxRetryAfter', async () => {
    const t = statusTransport([503, { 'retry-after': '2' }], 200)
    const { rf, retries } = make(t.fetch, { breaker: { retryAfter: false } })
    await settle(rf(URL_A))
    expect(retries).toEqual(['2@2000'])

    const far = statusTransport([429, { 'retry-after': '120' }], 200)
    const r = await settle(make(far.fetch).rf(URL_A))
    expect(r.status).toBe(429)
    expect(far.mock).toHaveBeenCalledTimes(1)

    expect(parseRetryAfter('3', 0)).toBe(3000)
    expect(parseRetryAfter(new Date(10_000).toUTCString(), 4000)).toBe(6000)
    expect(parseRetryAfter('soon', 0)).toBeUndefined()
    expect(parseRetryAfter(null, 0)).toBeUndefined()
  })

  it('honours a Retry-After of exactly maxRetryAfter: "up to" includes it', async () => {
    const t = statusTransport([503, { 'retry-after': '5' }], 200)
    const { rf, retries } = make(t.fetch, { breaker: { retryAfter: false }, retry: { limit: 2, backoff: { base: 100, jitter: 'none' }, maxRetryAfter: 5_000 } })
    const response = await settle(rf(URL_A))
    expect(response.status).toBe(200)
    expect(retries).toEqual(['2@5000'])
  })

  it('backoff jitter: full in [0, exp), equal in [exp/2, exp), none = exp; capped at max', () => {
    const b = { base: 100, max: 1000, jitter: 'full' as const }
    expect(backoffDelay(3, b, () => 0.5)).toBe(200)
    expect(backoffDelay(3, { ...b, jitter: 'equal' }, () => 0.5)).toBe(300)
    expect(backoffDelay(3, { ...b, jitter: 'none' })).toBe(400)
    expect(backoffDelay(10, { ...b, jitter: 'none' })).toBe(1000)
  })

  it('the wait between attempts ends at once when the caller aborts', async () => {
    const t = statusTransport(503)
    const { rf } = make(t.fetch, { retry: { limit: 2, backoff: { base: 60_000, jitter: 'none' }, maxRetryAfter: 60_000 } })
    const controller = new AbortController()
    const p = rf(URL_A, { signal: controller.signal }).catch((e) => e)
    await flush(10)
    expect(vi.getTimerCount()).toBe(1)
    controller.abort('cancelled')
    expect(await p).toBe('cancelled')
    expect(vi.getTimerCount()).toBe(0)
  })

  it('does not retry past the total deadline', async () => {
    const t = statusTransport(503)
    const { rf } = make(t.fetch, { timeout: { attempt: false, total: 150 }, retry: { limit: 5, backoff: { base: 100, jitter: 'none' } } })
    const response = await settle(rf(URL_A))
    expect(response.status).toBe(503)
    expect(t.mock).toHaveBeenCalledTimes(2)
  })

  it('retries never bypass an open breaker; the call ends with its last real response', async () => {
    const t = statusTransport(503)
    const { rf } = make(t.fetch, { breaker: { failureThreshold: 1 } })
    const response = await settle(rf(URL_A))
    expect(t.mock).toHaveBeenCalledTimes(1)
    expect(response.status).toBe(503)
    expect(await response.text()).toBe('s503')
    const error = await rf(URL_A).catch((e) => e)
    expect(error).toBeInstanceOf(CircuitOpenError)
  })

  it('a retried status that is no failure, whose retry the breaker refuses, ends the call as a failure: its Response, counted so; a stored copy when there is one', async () => {
    // 404 is no failure by the default rule, but this policy retries it: a 404 whose retry never ran was not good enough.
    const retry = { limit: 2, statusCodes: [404], backoff: { base: 100, jitter: 'none' as const } }
    const t = statusTransport(404)
    const { rf } = make(t.fetch, { retry })
    rf.addEventListener('retry', () => rf.breaker(URL_A)!.open())
    const response = await settle(rf(URL_A))
    expect(t.mock).toHaveBeenCalledTimes(1)
    expect(response.status).toBe(404)
    expect(await response.text()).toBe('s404')
    expect(rf.snapshot().totals).toMatchObject({ requests: 1, successes: 0, failures: 1 })

    const stored = statusTransport(200, 404)
    const withCopy = make(stored.fetch, { fallback: { store: 'memory' }, retry }).rf
    expect((await settle(withCopy(URL_A))).status).toBe(200)
    withCopy.addEventListener('retry', () => withCopy.breaker(URL_A)!.open())
    const served = await settle(withCopy(URL_A))
    expect(stored.mock).toHaveBeenCalledTimes(2)
    expect(served.status).toBe(200)
    expect(served.headers.get('x-resilient-source')).toBe('fallback')
    expect(withCopy.snapshot().totals).toMatchObject({ requests: 2, successes: 1, failures: 1, fallbacks: 1 })
  })

  it('after a network error, a refused retry rethrows the network error', async () => {
    const t = statusTransport(new TypeError('fetch failed'))
    const { rf } = make(t.fetch, { breaker: { failureThreshold: 1 } })
    const error = await settle(rf(URL_A).catch((e) => e))
    expect(error).toBeInstanceOf(TypeError)
    expect(rf.snapshot().totals).toMatchObject({ failures: 1, rejected: 0 })
  })

  it('totals.retries counts retry attempts made: not one the caller aborted in its backoff, nor one the breaker refused', async () => {
    // Aborted during the backoff: the retry event says it was scheduled; no attempt was made.
    const waiting = statusTransport(503)
    const { rf, retries } = make(waiting.fetch)
    const controller = new AbortController()
    const call = rf(URL_A, { signal: controller.signal }).catch((e) => e)
    await vi.advanceTimersByTimeAsync(50)
    expect(retries).toEqual(['2@100'])
    controller.abort('bye')
    expect(await call).toBe('bye')
    expect(waiting.mock).toHaveBeenCalledTimes(1)
    expect(rf.snapshot().totals.retries).toBe(0)

    // Refused by the breaker the first attempt opened: the call ends with that attempt's 503, one attempt, no retry.
    const open = statusTransport(503)
    const refused = make(open.fetch, { breaker: { failureThreshold: 1 } })
    const response = await settle(refused.rf(URL_A))
    expect(response.status).toBe(503)
    expect(refused.retries).toEqual(['2@100'])
    expect(resilienceInfo(response)!.attempts).toBe(1)
    expect(refused.rf.snapshot().totals).toMatchObject({ failures: 1, retries: 0 })

    // Made: each retry that reached the network counts once, so retries = attempts - 1.
    const made = statusTransport(503, 503, 200)
    const counted = make(made.fetch)
    const ok = await settle(counted.rf(URL_A))
    expect(resilienceInfo(ok)!.attempts).toBe(3)
    expect(counted.rf.snapshot().totals.retries).toBe(2)
  })

  it('the per-key budget caps retries at min + ratio × calls over 10 s', async () => {
    const t = statusTransport(503)
    const { rf } = make(t.fetch, { retry: { limit: 5, backoff: { base: 1, jitter: 'none' }, budget: { ratio: 0, min: 3 } } })
    await settle(rf(URL_A))
    await settle(rf(URL_A))
    expect(rf.snapshot().totals.retries).toBe(3)
    vi.advanceTimersByTime(11_000)
    await settle(rf(URL_A))
    expect(rf.snapshot().totals.retries).toBe(6)
  })

  it('discards the body of a retried response it will not return', async () => {
    const cancelled: number[] = []
    let n = 0
    const fetch = async () => {
      const i = ++n
      const body = new ReadableStream({ cancel: () => void cancelled.push(i) })
      return new Response(body, { status: i < 3 ? 503 : 200 })
    }
    const { rf } = make(fetch as never)
    const response = await settle(rf(URL_A))
    expect(response.status).toBe(200)
    expect(cancelled).toEqual([1, 2])
  })
})

describe('a per-call retry writes over the instance’s policy, not over the defaults', () => {
  const instance: ResilientFetchOptions = { retry: { limit: 1, statusCodes: [404], methods: ['GET', 'POST'], backoff: { base: 100, jitter: 'none' }, budget: false } }

  it('a number is the instance’s policy with a new limit: its statusCodes, methods and backoff stay', async () => {
    const t = statusTransport(404)
    const { rf, retries } = make(t.fetch, instance)
    const response = await settle(rf(URL_A, { method: 'POST', resilience: { retry: 3 } }))
    expect(response.status).toBe(404)
    expect(t.mock).toHaveBeenCalledTimes(4)
    expect(retries).toEqual(['2@100', '3@200', '4@400'])
    // A default status code is still not one the instance retries.
    const other = statusTransport(503)
    await settle(make(other.fetch, instance).rf(URL_A, { resilience: { retry: 3 } }))
    expect(other.mock).toHaveBeenCalledTimes(1)
  })

  it('an object replaces the fields it writes and keeps the others; false: no retries', async () => {
    const t = statusTransport(503)
    const { rf, retries } = make(t.fetch, instance)
    await settle(rf(URL_A, { method: 'POST', resilience: { retry: { statusCodes: [503] } } }))
    expect(t.mock).toHaveBeenCalledTimes(2)
    expect(retries).toEqual(['2@100'])
    const n = statusTransport(404)
    await settle(make(n.fetch, instance).rf(URL_A, { resilience: { retry: false } }))
    expect(n.mock).toHaveBeenCalledTimes(1)
  })

  it('on an instance with retry: false, the defaults stand in for its policy', async () => {
    const t = statusTransport(503, 503, 200)
    const { rf } = make(t.fetch, { retry: false })
    const response = await settle(rf(URL_A, { resilience: { retry: 2 } }))
    expect(response.status).toBe(200)
    expect(t.mock).toHaveBeenCalledTimes(3)
  })

  it('a written backoff is read whole (its absent fields the defaults); bad values are named under resilience.retry', async () => {
    const base = normalizeRetry({ limit: 4, statusCodes: [404], backoff: { base: 100, max: 500, jitter: 'none' } })
    expect(retrySchema({ backoff: { base: 50 } }, 'resilience.retry', base)).toEqual({ ...(base as object), backoff: { base: 50, max: 10_000, jitter: 'full' } })
    expect(retrySchema(7, 'resilience.retry', base)).toEqual({ ...(base as object), limit: 7 })
    const { rf } = make(statusTransport(200).fetch, instance)
    await expect(rf(URL_A, { resilience: { retry: -1 } })).rejects.toThrow('resilience.retry.limit must be a non-negative integer, got -1')
    await expect(rf(URL_A, { resilience: { retry: { statusCodes: [42] } } })).rejects.toThrow(/^resilience\.retry\.statusCodes must be an array of HTTP status codes/)
    await expect(rf(URL_A, { resilience: { retry: { limt: 1 } as never } })).rejects.toThrow(/^resilience\.retry\.limt is not an option/)
  })
})

describe('Retry-After is delay-seconds or an HTTP-date only (RFC 9110 §10.2.3; issue 10 defect 13)', () => {
  const NOW = Date.UTC(2026, 0, 15, 12, 0, 0)

  it('reads delay-seconds and the three HTTP-date forms', () => {
    expect(parseRetryAfter('0', NOW)).toBe(0)
    expect(parseRetryAfter(' 7 ', NOW)).toBe(7000)
    expect(parseRetryAfter('Thu, 15 Jan 2026 12:00:30 GMT', NOW)).toBe(30_000)
    expect(parseRetryAfter('Thursday, 15-Jan-26 12:00:30 GMT', NOW)).toBe(30_000)
    expect(parseRetryAfter('Thu Jan 15 12:00:30 2026', NOW)).toBe(30_000)
    expect(parseRetryAfter('Thu Jan  1 12:00:30 2026', Date.UTC(2026, 0, 1, 12))).toBe(30_000)
    // A date in the past means now.
    expect(parseRetryAfter('Sun, 06 Nov 1994 08:49:37 GMT', NOW)).toBe(0)
  })

  it.each(['-5', '1.5', '+5', '5, 6', '12/31/2099', '2099-12-31', 'soon', '', '1e3', '0x10', 'Thu, 31 Feb 2026 12:00:00 GMT', 'Thu, 15 Jan 2026 24:00:00 GMT', 'Thu, 15 Jan 2026 12:00:00 UTC', 'Thu, 15 Jan 0026 12:00:00 GMT'])(
    'ignores %j like any value that is neither',
    (value) => {
      expect(parseRetryAfter(value, NOW)).toBeUndefined()
    },
  )

  it('property: digits are seconds, an IMF-fixdate is its distance from now, anything else is ignored', () => {
    fc.assert(
      fc.property(fc.nat({ max: 10_000_000 }), (n) => parseRetryAfter(String(n), NOW) === n * 1000),
    )
    fc.assert(
      fc.property(fc.integer({ min: Date.UTC(1970, 0, 1), max: Date.UTC(9999, 11, 31) }), (t) => {
        const seconds = Math.floor(t / 1000) * 1000
        return parseRetryAfter(new Date(seconds).toUTCString(), NOW) === Math.max(0, seconds - NOW)
      }),
    )
    fc.assert(
      fc.property(fc.constantFrom('-', '+', '', ' -'), fc.nat(), fc.constantFrom('.5', ', 6', 'e3', '/12/2099', ' s', '', '.0'), (sign, n, tail) => {
        fc.pre(sign.trim() !== '' || tail.trim() !== '')
        return parseRetryAfter(`${sign}${n}${tail}`, NOW) === undefined
      }),
    )
    fc.assert(
      fc.property(fc.string(), (value) => {
        const trimmed = value.trim()
        fc.pre(!/^\d+$/.test(trimmed) && !/ GMT$|\d{4}$/.test(trimmed))
        return parseRetryAfter(value, NOW) === undefined
      }),
    )
  })

  it('a response with "-5" waits the backoff, and a "12/31/2099" does not open the breaker', async () => {
    const t = statusTransport([503, { 'retry-after': '-5' }], 200)
    const { rf, retries } = make(t.fetch)
    expect((await settle(rf(URL_A))).status).toBe(200)
    expect(retries).toEqual(['2@100'])

    const far = statusTransport([503, { 'retry-after': '12/31/2099' }], 200)
    const { rf: rf2 } = make(far.fetch, { retry: false })
    expect((await settle(rf2(URL_A))).status).toBe(503)
    expect(rf2.breaker('https://a.test')!.state).toBe('closed')
    expect((await settle(rf2(URL_A))).status).toBe(200)
  })
})
