/**
 * The per-call options (`init.resilience`) and the per-call timeout and retry, normalized over the instance's
 * (pinned after mutation testing the option schema): each is checked on the call, before anything is sent, with
 * the same messages as at creation under `resilience.`; what a call does not write is the instance's.
 */
import { describe, expect, it } from 'vitest'
import { createResilientFetch } from '../src/index.js'
import {
  checkCallOptions,
  normalizeBreaker,
  normalizeBulkhead,
  normalizeFallback,
  normalizeHedge,
  normalizeOptions,
  normalizeRetry,
  normalizeThrottle,
  normalizeTimeout,
  retrySchema,
  timeoutSchema,
  type NormalizedRetry,
} from '../src/options.js'
import { thrown } from './helpers.js'


const KNOWN = 'key, timeout, retry, fallback, waitUntil, priority, hedge, coalesce'

describe('init.resilience: every per-call option is checked on the call, naming it and its value', () => {
  it.each([
    ['null', null, `TypeError: resilience must be an object, got null`],
    ['an array', [], `TypeError: resilience must be an object, got []`],
    ['an unknown option', { retries: 1 }, `TypeError: resilience.retries is not an option (known: ${KNOWN})`],
    ['key: empty', { key: '' }, 'TypeError: resilience.key must be a non-empty string, got ""'],
    ['key: a number', { key: 5 }, 'TypeError: resilience.key must be a non-empty string, got 5'],
    ['fallback', { fallback: 'no' }, 'TypeError: resilience.fallback must be a boolean, got "no"'],
    ['waitUntil', { waitUntil: {} }, 'TypeError: resilience.waitUntil must be a function, got {}'],
    ['priority', { priority: 'urgent' }, `TypeError: resilience.priority must be 'high', 'normal' or 'low', got "urgent"`],
    ['hedge', { hedge: 'yes' }, 'TypeError: resilience.hedge must be a boolean, got "yes"'],
    ['coalesce', { coalesce: 0 }, 'TypeError: resilience.coalesce must be a boolean, got 0'],
  ])('%s', async (_name, resilience, message) => {
    expect(thrown(() => checkCallOptions(resilience))).toBe(message)
    const sent: string[] = []
    const rf = createResilientFetch({ fetch: async (input) => (sent.push(String(input)), new Response('ok')), fallback: false })
    await expect(rf('https://a.test/', { resilience: resilience as never })).rejects.toThrow(message.slice(message.indexOf(': ') + 2))
    expect(sent).toEqual([])
  })

  it('every option written well is taken, and undefined is as absent', async () => {
    const good = { key: 'k', timeout: 5, retry: 1, fallback: false, waitUntil: () => {}, priority: 'low', hedge: true, coalesce: false } as const
    expect(checkCallOptions(good)).toBe(good)
    for (const priority of ['high', 'normal', 'low'] as const) expect(checkCallOptions({ priority })).toEqual({ priority })
    const absent = { key: undefined, fallback: undefined, waitUntil: undefined, priority: undefined, hedge: undefined, coalesce: undefined }
    expect(checkCallOptions(absent)).toBe(absent)
    const rf = createResilientFetch({ fetch: async () => new Response('ok'), fallback: false })
    expect((await rf('https://a.test/', { resilience: absent })).status).toBe(200)
  })

  it('options inherited by init.resilience: a known one is checked, anything else is not an error of ours', async () => {
    // Per-call options built on shared ones (Object.create(defaults)): the call reads what they inherit.
    expect(thrown(() => checkCallOptions(Object.create({ key: '' })))).toBe('TypeError: resilience.key must be a non-empty string, got ""')
    const inherited = Object.create({ note: 'not an option', hedge: false })
    expect(checkCallOptions(inherited)).toBe(inherited)
    const rf = createResilientFetch({ fetch: async () => new Response('ok'), fallback: false })
    expect((await rf('https://a.test/', { resilience: inherited })).status).toBe(200)
  })
})

describe('a per-call timeout: what it does not write is the instance’s', () => {
  const base = { attempt: 1_000, total: 8_000 }
  it.each([
    ['a number: the attempt deadline, the instance’s total', 5_000, base, { attempt: 5_000, total: 8_000 }],
    ['a number, the instance with no total', 50_000, { attempt: 1_000, total: false }, { attempt: 50_000, total: false }],
    ['Infinity: no attempt deadline', Infinity, base, { attempt: false, total: 8_000 }],
    ['false: no deadline at all', false, base, { attempt: false, total: false }],
    ['{ total } alone, shorter than the instance’s attempt', { total: 500 }, base, { attempt: 1_000, total: 500 }],
    ['{ attempt } alone', { attempt: 2_000 }, base, { attempt: 2_000, total: 8_000 }],
    ['{}: the instance’s', {}, base, base],
  ] as const)('%s', (_name, value, instance, expected) => {
    expect(timeoutSchema(value, 'resilience.timeout', instance as never)).toStrictEqual(expected)
  })

  it.each([
    ['a number past the instance total', 9_000, 'RangeError: resilience.timeout (9000 ms) must not exceed the total deadline (8000 ms on the instance)'],
    ['{ attempt } past the instance total', { attempt: 9_000 }, 'RangeError: resilience.timeout.attempt (9000 ms) must not exceed the total deadline (8000 ms on the instance)'],
    ['{ attempt } past the total beside it', { attempt: 600, total: 500 }, 'RangeError: resilience.timeout.attempt (600 ms) must not exceed resilience.timeout.total (500 ms)'],
    ['an unknown field', { connect: 5 }, 'TypeError: resilience.timeout.connect is not an option (known: attempt, total)'],
    ['a string', '5', 'TypeError: resilience.timeout must be a number, got "5" (a string: write 5 without quotes)'],
  ])('%s is refused', (_name, value, message) => {
    expect(thrown(() => timeoutSchema(value, 'resilience.timeout', base))).toBe(message)
  })
})

describe('a per-call retry: each field it writes replaces the instance’s', () => {
  const instance = normalizeOptions({ retry: { limit: 4, statusCodes: [503], maxRetryAfter: 7, budget: false } }).retry as NormalizedRetry

  it('a number is the limit, the rest the instance’s', () => {
    expect(retrySchema(1, 'resilience.retry', instance)).toStrictEqual({ ...instance, limit: 1 })
  })

  it('an object replaces only what it writes', () => {
    expect(retrySchema({ methods: ['post'] }, 'resilience.retry', instance)).toStrictEqual({ ...instance, methods: new Set(['POST']) })
  })

  it('false: no retries; with retry off on the instance, what the call writes is over the defaults', () => {
    expect(retrySchema(false, 'resilience.retry', instance)).toBe(false)
    expect(retrySchema(3, 'resilience.retry', false)).toStrictEqual({ ...(normalizeRetry(undefined) as NormalizedRetry), limit: 3 })
  })

  it('refused under resilience.retry', () => {
    expect(thrown(() => retrySchema(-1, 'resilience.retry', instance))).toBe('RangeError: resilience.retry.limit must be a non-negative integer, got -1')
    expect(thrown(() => retrySchema({ statusCodes: [1] }, 'resilience.retry', instance))).toBe('TypeError: resilience.retry.statusCodes must be an array of HTTP status codes (100-599), got [1]')
  })
})

describe('each option normalized alone (the proxy and the stages build theirs so), naming it in its errors', () => {
  it('absent: the instance defaults; hedge and throttle off', () => {
    expect(normalizeTimeout(undefined)).toStrictEqual({ attempt: 10_000, total: 30_000 })
    expect(normalizeRetry(undefined)).toStrictEqual(normalizeOptions(undefined).retry)
    expect(normalizeHedge(undefined)).toBe(false)
    expect(normalizeThrottle(undefined)).toBe(false)
    expect(normalizeBreaker(undefined)).toStrictEqual(normalizeOptions(undefined).breaker)
    expect(normalizeBulkhead(undefined)).toStrictEqual({ maxConcurrent: 50, maxQueue: 100, queueTimeout: 5_000 })
    expect(normalizeFallback(undefined)).toStrictEqual(normalizeOptions(undefined).fallback)
  })

  it('false: off', () => {
    for (const normalize of [normalizeBreaker, normalizeBulkhead, normalizeFallback, normalizeHedge, normalizeThrottle, normalizeRetry]) expect(normalize(false)).toBe(false)
    expect(normalizeTimeout(false)).toStrictEqual({ attempt: false, total: false })
  })

  it('written: normalized as in the options', () => {
    expect(normalizeTimeout({ total: false })).toStrictEqual({ attempt: 10_000, total: false })
    expect(normalizeRetry(0)).toMatchObject({ limit: 0 })
    expect(normalizeHedge({ delay: 'p99' })).toMatchObject({ delay: 'p99', maxHedges: 1 })
    expect(normalizeThrottle({ k: 3 })).toStrictEqual({ k: 3, window: 120_000, maxRejectRate: 0.9 })
  })

  it.each([
    ['the options', () => normalizeOptions({ maxKeys: 0 } as never), 'RangeError: maxKeys must be a positive integer, got 0'],
    ['the options object', () => normalizeOptions(5 as never), 'TypeError: options must be an object, got 5'],
    ['breaker', () => normalizeBreaker({ failureThreshold: 0 }), 'RangeError: breaker.failureThreshold must be a positive integer, got 0'],
    ['bulkhead', () => normalizeBulkhead({ maxQueue: -1 }), 'RangeError: bulkhead.maxQueue must be a non-negative integer, got -1'],
    ['fallback', () => normalizeFallback({ maxAge: 0 }), 'RangeError: fallback.maxAge must be a positive number of ms (Infinity: no limit), got 0'],
    ['hedge', () => normalizeHedge({ maxHedges: 0 }), 'RangeError: hedge.maxHedges must be a positive integer, got 0'],
    ['throttle', () => normalizeThrottle({ k: 0 }), 'RangeError: throttle.k must be a finite number >= 1, got 0'],
    ['timeout', () => normalizeTimeout(0), 'RangeError: timeout must be a positive finite number of ms, got 0'],
    ['timeout at a path', () => normalizeTimeout(0, 'TIMEOUT_MS'), 'RangeError: TIMEOUT_MS must be a positive finite number of ms, got 0'],
    ['retry', () => normalizeRetry(-1), 'RangeError: retry.limit must be a non-negative integer, got -1'],
    ['retry at a path', () => normalizeRetry(-1, 'RETRIES'), 'RangeError: RETRIES.limit must be a non-negative integer, got -1'],
  ])('%s', (_name, run, message) => {
    expect(thrown(run)).toBe(message)
  })
})
