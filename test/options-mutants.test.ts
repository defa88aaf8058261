/**
 * Every option of createResilientFetch, its default, its check and its error, pinned exactly (found by mutation
 * testing the option schema): the defaults are API.md's; a bad value is refused at creation with a TypeError (wrong
 * type) or a RangeError (out of range) whose message names the option and the value; the values at each bound are taken.
 */
import { describe, expect, it } from 'vitest'
import { createResilientFetch } from '../src/index.js'
import { normalizeOptions } from '../src/options.js'
import { MAX_DURATION } from '../src/schema.js'
import { thrown } from './helpers.js'


describe('the defaults are the contract (API.md, Options)', () => {
  it('createResilientFetch() normalizes to exactly these options', () => {
    const { isFailure, ...rest } = normalizeOptions(undefined)
    expect(isFailure.name).toBe('isFailureDefault')
    expect(rest).toStrictEqual({
      fetch: undefined,
      key: undefined,
      breaker: {
        window: { type: 'time', duration: 30_000 },
        failureThreshold: 5,
        failureRate: undefined,
        slowCall: undefined,
        openDuration: { base: 30_000, max: 30_000, multiplier: 1, jitter: 0 },
        halfOpen: { probes: 1, successesToClose: 1 },
        probes: 1,
        successesToClose: 1,
        retryAfter: true,
      },
      bulkhead: { maxConcurrent: 50, maxQueue: 100, queueTimeout: 5_000 },
      timeout: { attempt: 10_000, total: 30_000 },
      retry: {
        limit: 2,
        methods: new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE']),
        statusCodes: new Set([408, 429, 500, 502, 503, 504]),
        backoff: { base: 300, max: 10_000, jitter: 'full' },
        maxRetryAfter: 60_000,
        budget: { ratio: 0.2, min: 10 },
      },
      fallback: { store: 'auto', maxAge: 86_400_000, maxBodyBytes: 5 * 1024 * 1024, private: false },
      maxKeys: 1_000,
      share: undefined,
      hedge: false,
      throttle: false,
      coalesce: false,
    })
  })

  it('hedge and throttle switched on with {} take their own defaults', () => {
    const o = normalizeOptions({ hedge: {}, throttle: {} })
    expect(o.hedge).toStrictEqual({ delay: 'p95', maxHedges: 1, methods: new Set(['GET', 'HEAD']), budget: { ratio: 0.1, min: 5 } })
    expect(o.throttle).toStrictEqual({ k: 2, window: 120_000, maxRejectRate: 0.9 })
  })

  it('an openDuration object grows by 2 with 10 % jitter unless told otherwise', () => {
    expect(normalizeOptions({ breaker: { openDuration: { base: 100, max: 800 } } }).breaker).toMatchObject({ openDuration: { base: 100, max: 800, multiplier: 2, jitter: 0.1 } })
    expect(normalizeOptions({ breaker: { openDuration: 250 } }).breaker).toMatchObject({ openDuration: { base: 250, max: 250, multiplier: 1, jitter: 0 } })
  })

  it('retry.backoff.max defaults to 10 s, or to base when base is longer', () => {
    const backoff = (b: object) => (normalizeOptions({ retry: { backoff: b } }).retry as { backoff: unknown }).backoff
    expect(backoff({ base: 20_000 })).toStrictEqual({ base: 20_000, max: 20_000, jitter: 'full' })
    expect(backoff({ base: 50, jitter: 'equal' })).toStrictEqual({ base: 50, max: 10_000, jitter: 'equal' })
    expect(backoff({ base: 400, max: 400 })).toStrictEqual({ base: 400, max: 400, jitter: 'full' })
  })
})

const MAX = MAX_DURATION
const R = 'RangeError'
const T = 'TypeError'

/** [option, the options, the error class, its exact message] */
const refused: [string, unknown, string, string][] = [
  // The options object itself.
  ['options: null', null, T, 'options must be an object, got null'],
  ['options: an array', [], T, 'options must be an object, got []'],
  ['options: a string', 'x', T, 'options must be an object, got "x"'],
  ['an unknown option', { retries: 3 }, T, 'options.retries is not an option (known: fetch, key, breaker, bulkhead, timeout, retry, isFailure, fallback, maxKeys, share, hedge, throttle, coalesce)'],
  // fetch, key, isFailure, share, coalesce, maxKeys
  ['fetch', { fetch: 'https://a.test' }, T, 'fetch must be a function, got "https://a.test"'],
  ['key', { key: null }, T, 'key must be a function, got null'],
  ['isFailure', { isFailure: {} }, T, 'isFailure must be a function, got {}'],
  ['share: not an object', { share: 'tabs' }, T, 'share must be a BreakerShare, got "tabs"'],
  ['share: null', { share: null }, T, 'share must be a BreakerShare, got null'],
  ['share: no connect()', { share: { connect: 1 } }, T, 'share must be a BreakerShare (missing connect()), got {"connect":1}'],
  ['coalesce', { coalesce: 1 }, T, 'coalesce must be a boolean, got 1'],
  ['maxKeys: 0', { maxKeys: 0 }, R, 'maxKeys must be a positive integer, got 0'],
  ['maxKeys: past a safe integer', { maxKeys: 2 ** 53 }, R, 'maxKeys must be a positive integer, got 9007199254740992'],
  ['maxKeys: Infinity', { maxKeys: Infinity }, R, 'maxKeys must be a positive integer, got Infinity'],
  ['maxKeys: NaN', { maxKeys: NaN }, T, 'maxKeys must be a number, got NaN'],
  ['maxKeys: a bigint', { maxKeys: 10n }, T, 'maxKeys must be a number, got 10n'],
  ['maxKeys: a symbol', { maxKeys: Symbol.for('k') }, T, 'maxKeys must be a number, got Symbol(k)'],
  ['maxKeys: a function', { maxKeys: () => 1 }, T, 'maxKeys must be a number, got a function'],
  ['maxKeys: blank string', { maxKeys: '  ' }, T, 'maxKeys must be a number, got "  "'],
  ['maxKeys: a word', { maxKeys: 'many' }, T, 'maxKeys must be a number, got "many"'],
  ['maxKeys: a number in quotes', { maxKeys: '10' }, T, 'maxKeys must be a number, got "10" (a string: write 10 without quotes)'],
  // breaker
  ['breaker: true', { breaker: true }, T, 'breaker must be an object, got true'],
  ['breaker: unknown field', { breaker: { probes: 2 } }, T, 'breaker.probes is not an option (known: window, failureThreshold, failureRate, slowCall, openDuration, halfOpen, retryAfter)'],
  ['breaker.window: null', { breaker: { window: null } }, T, `breaker.window must be 'consecutive', { type: 'count', size } or { type: 'time', duration }, got null`],
  ['breaker.window: an array', { breaker: { window: ['count', 5] } }, T, `breaker.window must be 'consecutive', { type: 'count', size } or { type: 'time', duration }, got ["count",5]`],
  ['breaker.window.type: absent', { breaker: { window: {} } }, T, `breaker.window.type must be 'count' or 'time', got undefined`],
  ['breaker.window.size: absent', { breaker: { window: { type: 'count' } } }, T, 'breaker.window.size must be a number, got undefined'],
  ['breaker.window.size: a float', { breaker: { window: { type: 'count', size: 5.5 } } }, R, 'breaker.window.size must be a positive integer, got 5.5'],
  ['breaker.window: a count window with a duration', { breaker: { window: { type: 'count', size: 10, duration: 5 } } }, T, 'breaker.window.duration is not an option (known: type, size)'],
  ['breaker.window: a time window with a size', { breaker: { window: { type: 'time', duration: 5, size: 10 } } }, T, 'breaker.window.size is not an option (known: type, duration)'],
  ['breaker.window.duration: 0', { breaker: { window: { type: 'time', duration: 0 } } }, R, 'breaker.window.duration must be a positive finite number of ms, got 0'],
  ['breaker.window.size under the threshold', { breaker: { window: { type: 'count', size: 4 } } }, R, 'breaker.window.size must be at least failureThreshold (5), got 4'],
  ['breaker.window.size under a threshold given', { breaker: { window: { type: 'count', size: 2 }, failureThreshold: 3 } }, R, 'breaker.window.size must be at least failureThreshold (3), got 2'],
  ['breaker.failureThreshold: 0', { breaker: { failureThreshold: 0 } }, R, 'breaker.failureThreshold must be a positive integer, got 0'],
  ['breaker.failureThreshold: -1', { breaker: { failureThreshold: -1 } }, R, 'breaker.failureThreshold must be a positive integer, got -1'],
  ['breaker.failureRate: NaN', { breaker: { failureRate: NaN } }, T, 'breaker.failureRate must be a number, got NaN'],
  ['breaker.failureRate: below 0', { breaker: { failureRate: -0.01 } }, R, 'breaker.failureRate must be a number from 0 to 1, got -0.01'],
  ['breaker.failureRate: above 1', { breaker: { failureRate: 1.01 } }, R, 'breaker.failureRate must be a number from 0 to 1, got 1.01'],
  ['breaker.slowCall: null', { breaker: { slowCall: null } }, T, 'breaker.slowCall must be an object, got null'],
  ['breaker.slowCall.duration: absent', { breaker: { slowCall: { rate: 0.5 } } }, T, 'breaker.slowCall.duration must be a number, got undefined'],
  ['breaker.slowCall.rate: absent', { breaker: { slowCall: { duration: 100 } } }, T, 'breaker.slowCall.rate must be a number, got undefined'],
  ['breaker.slowCall.rate: above 1', { breaker: { slowCall: { duration: 100, rate: 2 } } }, R, 'breaker.slowCall.rate must be a number from 0 to 1, got 2'],
  ['breaker.openDuration: null', { breaker: { openDuration: null } }, T, 'breaker.openDuration must be an object, got null'],
  ['breaker.openDuration: negative', { breaker: { openDuration: -5 } }, R, 'breaker.openDuration must be a positive finite number of ms, got -5'],
  ['breaker.openDuration: past the timer limit', { breaker: { openDuration: MAX + 1 } }, R, `breaker.openDuration must be at most ${MAX} ms, got ${MAX + 1}`],
  ['breaker.openDuration.base: absent', { breaker: { openDuration: { max: 10 } } }, T, 'breaker.openDuration.base must be a number, got undefined'],
  ['breaker.openDuration.max: absent', { breaker: { openDuration: { base: 10 } } }, T, 'breaker.openDuration.max must be a number, got undefined'],
  ['breaker.openDuration.max under base', { breaker: { openDuration: { base: 10, max: 9 } } }, R, 'breaker.openDuration.max must be at least base (10), got 9'],
  ['breaker.openDuration.multiplier under 1', { breaker: { openDuration: { base: 1, max: 2, multiplier: 0.5 } } }, R, 'breaker.openDuration.multiplier must be a finite number >= 1, got 0.5'],
  ['breaker.openDuration.multiplier: Infinity', { breaker: { openDuration: { base: 1, max: 2, multiplier: Infinity } } }, R, 'breaker.openDuration.multiplier must be a finite number >= 1, got Infinity'],
  ['breaker.openDuration.jitter: negative', { breaker: { openDuration: { base: 1, max: 2, jitter: -0.1 } } }, R, 'breaker.openDuration.jitter must be a number from 0 to 1, got -0.1'],
  ['breaker.openDuration: unknown field', { breaker: { openDuration: { base: 1, max: 2, factor: 3 } } }, T, 'breaker.openDuration.factor is not an option (known: base, max, multiplier, jitter)'],
  ['breaker.halfOpen: null', { breaker: { halfOpen: null } }, T, 'breaker.halfOpen must be an object, got null'],
  ['breaker.halfOpen.successesToClose: 0', { breaker: { halfOpen: { successesToClose: 0 } } }, R, 'breaker.halfOpen.successesToClose must be a positive integer, got 0'],
  ['breaker.halfOpen: unknown field', { breaker: { halfOpen: { probe: 1 } } }, T, 'breaker.halfOpen.probe is not an option (known: probes, successesToClose)'],
  ['breaker.retryAfter', { breaker: { retryAfter: 1 } }, T, 'breaker.retryAfter must be a boolean, got 1'],
  // bulkhead
  ['bulkhead: null', { bulkhead: null }, T, 'bulkhead must be an object, got null'],
  ['bulkhead: unknown field', { bulkhead: { max: 1 } }, T, 'bulkhead.max is not an option (known: maxConcurrent, maxQueue, queueTimeout)'],
  ['bulkhead.maxConcurrent: a float', { bulkhead: { maxConcurrent: 2.5 } }, R, 'bulkhead.maxConcurrent must be a positive integer, got 2.5'],
  ['bulkhead.maxQueue: a float', { bulkhead: { maxQueue: 0.5 } }, R, 'bulkhead.maxQueue must be a non-negative integer, got 0.5'],
  ['bulkhead.maxQueue: past a safe integer', { bulkhead: { maxQueue: 2 ** 53 } }, R, 'bulkhead.maxQueue must be a non-negative integer, got 9007199254740992'],
  ['bulkhead.queueTimeout: 0', { bulkhead: { queueTimeout: 0 } }, R, 'bulkhead.queueTimeout must be a positive finite number of ms, got 0'],
  ['bulkhead.queueTimeout: past the timer limit', { bulkhead: { queueTimeout: MAX + 1 } }, R, `bulkhead.queueTimeout must be at most ${MAX} ms, got ${MAX + 1}`],
  // timeout
  ['timeout: null', { timeout: null }, T, 'timeout must be a number, got null'],
  ['timeout: true', { timeout: true }, T, 'timeout must be a number, got true'],
  ['timeout: an array', { timeout: [] }, T, 'timeout must be an object, got []'],
  ['timeout: 0', { timeout: 0 }, R, 'timeout must be a positive finite number of ms, got 0'],
  ['timeout: unknown field', { timeout: { connect: 5 } }, T, 'timeout.connect is not an option (known: attempt, total)'],
  ['timeout.attempt: 0', { timeout: { attempt: 0 } }, R, 'timeout.attempt must be a positive finite number of ms, got 0'],
  ['timeout.total: -Infinity', { timeout: { total: -Infinity } }, R, 'timeout.total must be a positive finite number of ms, got -Infinity'],
  ['timeout.total: past the timer limit', { timeout: { total: MAX + 1 } }, R, `timeout.total must be at most ${MAX} ms, got ${MAX + 1}`],
  ['timeout.attempt past timeout.total', { timeout: { attempt: 1_001, total: 1_000 } }, R, 'timeout.attempt (1001 ms) must not exceed timeout.total (1000 ms)'],
  ['timeout.attempt past the default total', { timeout: { attempt: 30_001 } }, R, 'timeout.attempt (30001 ms) must not exceed the total deadline (30000 ms by default)'],
  ['timeout past the default total', { timeout: 30_001 }, R, 'timeout (30001 ms) must not exceed the total deadline (30000 ms by default)'],
  // retry
  ['retry: null', { retry: null }, T, 'retry must be an object, got null'],
  ['retry: an array', { retry: [1] }, T, 'retry must be an object, got [1]'],
  ['retry: a float', { retry: 1.5 }, R, 'retry.limit must be a non-negative integer, got 1.5'],
  ['retry: Infinity', { retry: Infinity }, R, 'retry.limit must be a non-negative integer, got Infinity'],
  ['retry.limit: -1', { retry: { limit: -1 } }, R, 'retry.limit must be a non-negative integer, got -1'],
  ['retry: unknown field', { retry: { retries: 1 } }, T, 'retry.retries is not an option (known: limit, methods, statusCodes, backoff, maxRetryAfter, budget)'],
  ['retry.methods: an empty name', { retry: { methods: [''] } }, T, 'retry.methods must be an array of method names, got [""]'],
  ['retry.methods: a leading space', { retry: { methods: [' GET'] } }, T, 'retry.methods must be an array of method names, got [" GET"]'],
  ['retry.methods: not a string', { retry: { methods: [1] } }, T, 'retry.methods must be an array of method names, got [1]'],
  ['retry.methods: a path', { retry: { methods: ['GET/'] } }, T, 'retry.methods must be an array of method names, got ["GET/"]'],
  ['retry.statusCodes: 99', { retry: { statusCodes: [99] } }, T, 'retry.statusCodes must be an array of HTTP status codes (100-599), got [99]'],
  ['retry.statusCodes: 600', { retry: { statusCodes: [600] } }, T, 'retry.statusCodes must be an array of HTTP status codes (100-599), got [600]'],
  ['retry.statusCodes: a float', { retry: { statusCodes: [503.5] } }, T, 'retry.statusCodes must be an array of HTTP status codes (100-599), got [503.5]'],
  ['retry.statusCodes: a string', { retry: { statusCodes: ['503'] } }, T, 'retry.statusCodes must be an array of HTTP status codes (100-599), got ["503"]'],
  ['retry.statusCodes: not an array', { retry: { statusCodes: 503 } }, T, 'retry.statusCodes must be an array of HTTP status codes (100-599), got 503'],
  ['retry.backoff: null', { retry: { backoff: null } }, T, 'retry.backoff must be an object, got null'],
  ['retry.backoff.base: 0', { retry: { backoff: { base: 0 } } }, R, 'retry.backoff.base must be a positive finite number of ms, got 0'],
  ['retry.backoff.max under the default base', { retry: { backoff: { max: 299 } } }, R, 'retry.backoff.max must be at least base (300), got 299'],
  ['retry.backoff.max under base', { retry: { backoff: { base: 20, max: 10 } } }, R, 'retry.backoff.max must be at least base (20), got 10'],
  ['retry.backoff.max: past the timer limit', { retry: { backoff: { max: MAX + 1 } } }, R, `retry.backoff.max must be at most ${MAX} ms, got ${MAX + 1}`],
  ['retry.backoff.jitter', { retry: { backoff: { jitter: 'half' } } }, T, `retry.backoff.jitter must be 'full', 'equal' or 'none', got "half"`],
  ['retry.backoff: unknown field', { retry: { backoff: { min: 1 } } }, T, 'retry.backoff.min is not an option (known: base, max, jitter)'],
  ['retry.maxRetryAfter: -1', { retry: { maxRetryAfter: -1 } }, R, 'retry.maxRetryAfter must be a non-negative number of ms (Infinity: no limit), got -1'],
  ['retry.maxRetryAfter: NaN', { retry: { maxRetryAfter: NaN } }, T, 'retry.maxRetryAfter must be a number, got NaN'],
  ['retry.budget: true', { retry: { budget: true } }, T, 'retry.budget must be an object, got true'],
  ['retry.budget.ratio: above 1', { retry: { budget: { ratio: 1.5 } } }, R, 'retry.budget.ratio must be a number from 0 to 1, got 1.5'],
  ['retry.budget.min: -1', { retry: { budget: { min: -1 } } }, R, 'retry.budget.min must be a non-negative integer, got -1'],
  ['retry.budget: unknown field', { retry: { budget: { max: 1 } } }, T, 'retry.budget.max is not an option (known: ratio, min)'],
  // fallback
  ['fallback: true', { fallback: true }, T, 'fallback must be an object, got true'],
  ['fallback: unknown field', { fallback: { ttl: 1 } }, T, 'fallback.ttl is not an option (known: store, maxAge, maxBodyBytes, private)'],
  ['fallback.store: a word', { fallback: { store: 'idb' } }, T, `fallback.store must be 'auto', 'memory' or a FallbackStore, got "idb"`],
  ['fallback.store: null', { fallback: { store: null } }, T, `fallback.store must be 'auto', 'memory' or a FallbackStore, got null`],
  ['fallback.store: a function', { fallback: { store: () => 1 } }, T, `fallback.store must be 'auto', 'memory' or a FallbackStore, got a function`],
  ['fallback.store: methods that are not functions', { fallback: { store: { get: 1, put: 1, delete: 1 } } }, T, `fallback.store must be 'auto', 'memory' or a FallbackStore (missing get()), got {"get":1,"put":1,"delete":1}`],
  ['fallback.store: no clear()', { fallback: { store: { get() {}, put() {}, delete() {}, clear: null } } }, T, `fallback.store must be 'auto', 'memory' or a FallbackStore (missing clear()), got {"clear":null}`],
  ['fallback.maxAge: -1', { fallback: { maxAge: -1 } }, R, 'fallback.maxAge must be a positive number of ms (Infinity: no limit), got -1'],
  ['fallback.maxAge: 0', { fallback: { maxAge: 0 } }, R, 'fallback.maxAge must be a positive number of ms (Infinity: no limit), got 0'],
  ['fallback.maxBodyBytes: 0', { fallback: { maxBodyBytes: 0 } }, R, 'fallback.maxBodyBytes must be a positive integer, got 0'],
  ['fallback.private', { fallback: { private: 'yes' } }, T, 'fallback.private must be a boolean, got "yes"'],
  // hedge
  ['hedge: true', { hedge: true }, T, 'hedge must be an object, got true'],
  ['hedge: null', { hedge: null }, T, 'hedge must be an object, got null'],
  ['hedge: unknown field', { hedge: { after: 5 } }, T, 'hedge.after is not an option (known: delay, maxHedges, methods, budget)'],
  ['hedge.delay: another percentile', { hedge: { delay: 'p50' } }, T, `hedge.delay must be a number of ms or 'p90', 'p95', 'p99', got "p50"`],
  ['hedge.delay: null', { hedge: { delay: null } }, T, `hedge.delay must be a number of ms or 'p90', 'p95', 'p99', got null`],
  ['hedge.delay: 0', { hedge: { delay: 0 } }, R, 'hedge.delay must be a positive finite number of ms, got 0'],
  ['hedge.delay: past the timer limit', { hedge: { delay: MAX + 1 } }, R, `hedge.delay must be at most ${MAX} ms, got ${MAX + 1}`],
  ['hedge.maxHedges: 0', { hedge: { maxHedges: 0 } }, R, 'hedge.maxHedges must be a positive integer, got 0'],
  ['hedge.methods', { hedge: { methods: 'GET' } }, T, 'hedge.methods must be an array of method names, got "GET"'],
  ['hedge.budget: null', { hedge: { budget: null } }, T, 'hedge.budget must be an object, got null'],
  ['hedge.budget.ratio: below 0', { hedge: { budget: { ratio: -1 } } }, R, 'hedge.budget.ratio must be a number from 0 to 1, got -1'],
  ['hedge.budget.min: a float', { hedge: { budget: { min: 0.5 } } }, R, 'hedge.budget.min must be a non-negative integer, got 0.5'],
  // throttle
  ['throttle: true', { throttle: true }, T, 'throttle must be an object, got true'],
  ['throttle: unknown field', { throttle: { rate: 1 } }, T, 'throttle.rate is not an option (known: k, window, maxRejectRate)'],
  ['throttle.k: under 1', { throttle: { k: 0.99 } }, R, 'throttle.k must be a finite number >= 1, got 0.99'],
  ['throttle.k: Infinity', { throttle: { k: Infinity } }, R, 'throttle.k must be a finite number >= 1, got Infinity'],
  ['throttle.window: 0', { throttle: { window: 0 } }, R, 'throttle.window must be a positive finite number of ms, got 0'],
  ['throttle.maxRejectRate: 1', { throttle: { maxRejectRate: 1 } }, R, 'throttle.maxRejectRate must be below 1, got 1'],
  ['throttle.maxRejectRate: above 1', { throttle: { maxRejectRate: 1.5 } }, R, 'throttle.maxRejectRate must be a number from 0 to 1, got 1.5'],
  ['throttle.maxRejectRate: a string', { throttle: { maxRejectRate: '0.5' } }, T, 'throttle.maxRejectRate must be a number, got "0.5" (a string: write 0.5 without quotes)'],
]

describe('a bad option is refused at creation: the error class, the option and the value', () => {
  it.each(refused)('%s', (_name, options, type, message) => {
    expect(thrown(() => createResilientFetch(options as never))).toBe(`${type}: ${message}`)
  })

  it('a value that cannot be written as JSON is still shown', () => {
    const cycle: unknown[] = []
    cycle.push(cycle)
    expect(thrown(() => createResilientFetch({ retry: { statusCodes: cycle } } as never))).toBe('TypeError: retry.statusCodes must be an array of HTTP status codes (100-599), got [[object Array]]')
  })
})

/** [what, the options, what the option normalizes to: the values at each bound are taken] */
const taken: [string, object, (o: ReturnType<typeof normalizeOptions>) => unknown, unknown][] = [
  ['maxKeys: 1', { maxKeys: 1 }, (o) => o.maxKeys, 1],
  ['maxKeys: the largest safe integer', { maxKeys: Number.MAX_SAFE_INTEGER }, (o) => o.maxKeys, Number.MAX_SAFE_INTEGER],
  ["breaker.window: 'consecutive'", { breaker: { window: 'consecutive' } }, (o) => o.breaker && o.breaker.window, { type: 'consecutive' }],
  ['breaker.window: a count window as large as the threshold', { breaker: { window: { type: 'count', size: 5 } } }, (o) => o.breaker && o.breaker.window, { type: 'count', size: 5 }],
  ['breaker.window: a time window', { breaker: { window: { type: 'time', duration: 1 } } }, (o) => o.breaker && o.breaker.window, { type: 'time', duration: 1 }],
  ['breaker: a time window shorter than the threshold in ms', { breaker: { window: { type: 'time', duration: 2 }, failureThreshold: 3 } }, (o) => o.breaker && o.breaker.failureThreshold, 3],
  ['breaker.failureRate: 0', { breaker: { failureRate: 0 } }, (o) => o.breaker && o.breaker.failureRate, 0],
  ['breaker.failureRate: 1', { breaker: { failureRate: 1 } }, (o) => o.breaker && o.breaker.failureRate, 1],
  ['breaker.slowCall', { breaker: { slowCall: { duration: 100, rate: 0 } } }, (o) => o.breaker && o.breaker.slowCall, { duration: 100, rate: 0 }],
  ['breaker.openDuration: the timer limit', { breaker: { openDuration: MAX } }, (o) => o.breaker && o.breaker.openDuration, { base: MAX, max: MAX, multiplier: 1, jitter: 0 }],
  ['breaker.openDuration: max as base, multiplier 1, jitter 1', { breaker: { openDuration: { base: 5, max: 5, multiplier: 1, jitter: 1 } } }, (o) => o.breaker && o.breaker.openDuration, { base: 5, max: 5, multiplier: 1, jitter: 1 }],
  ['breaker.halfOpen: the breaker reads it beside the others', { breaker: { halfOpen: { probes: 3, successesToClose: 2 } } }, (o) => o.breaker && [o.breaker.probes, o.breaker.successesToClose, o.breaker.halfOpen], [3, 2, { probes: 3, successesToClose: 2 }]],
  ['breaker.retryAfter: false', { breaker: { retryAfter: false } }, (o) => o.breaker && o.breaker.retryAfter, false],
  ['breaker: false', { breaker: false }, (o) => o.breaker, false],
  ['bulkhead: false', { bulkhead: false }, (o) => o.bulkhead, false],
  ['bulkhead: the bounds', { bulkhead: { maxConcurrent: 1, maxQueue: 0, queueTimeout: MAX } }, (o) => o.bulkhead, { maxConcurrent: 1, maxQueue: 0, queueTimeout: MAX }],
  ['bulkhead.queueTimeout: under a ms', { bulkhead: { queueTimeout: 0.5 } }, (o) => o.bulkhead && o.bulkhead.queueTimeout, 0.5],
  ['timeout: false', { timeout: false }, (o) => o.timeout, { attempt: false, total: false }],
  ['timeout: a number is the attempt deadline', { timeout: 30_000 }, (o) => o.timeout, { attempt: 30_000, total: 30_000 }],
  ['timeout: Infinity', { timeout: Infinity }, (o) => o.timeout, { attempt: false, total: 30_000 }],
  ['timeout: { attempt: false }', { timeout: { attempt: false } }, (o) => o.timeout, { attempt: false, total: 30_000 }],
  ['timeout: { total: false } keeps the default attempt', { timeout: { total: false } }, (o) => o.timeout, { attempt: 10_000, total: false }],
  ['timeout: an attempt as long as the total', { timeout: { attempt: 1_000, total: 1_000 } }, (o) => o.timeout, { attempt: 1_000, total: 1_000 }],
  ['timeout: any attempt with no total', { timeout: { attempt: MAX, total: false } }, (o) => o.timeout, { attempt: MAX, total: false }],
  ['timeout: a total alone shorter than the default attempt', { timeout: { total: 10 } }, (o) => o.timeout, { attempt: 10_000, total: 10 }],
  ['retry: false', { retry: false }, (o) => o.retry, false],
  ['retry: a number is the limit', { retry: 0 }, (o) => o.retry && o.retry.limit, 0],
  ['retry.methods: every token character', { retry: { methods: ["a!#$%&'*+.^_`|~-9"] } }, (o) => o.retry && [...o.retry.methods], ["A!#$%&'*+.^_`|~-9"]],
  ['retry.statusCodes: the bounds', { retry: { statusCodes: [100, 599] } }, (o) => o.retry && [...o.retry.statusCodes], [100, 599]],
  ['retry.maxRetryAfter: 0', { retry: { maxRetryAfter: 0 } }, (o) => o.retry && o.retry.maxRetryAfter, 0],
  ['retry.budget: false', { retry: { budget: false } }, (o) => o.retry && o.retry.budget, false],
  ['retry.budget: the bounds', { retry: { budget: { ratio: 1, min: 0 } } }, (o) => o.retry && o.retry.budget, { ratio: 1, min: 0 }],
  ['fallback: false', { fallback: false }, (o) => o.fallback, false],
  ["fallback.store: 'memory'", { fallback: { store: 'memory' } }, (o) => o.fallback && o.fallback.store, 'memory'],
  ['fallback.maxAge: under a ms', { fallback: { maxAge: 0.5 } }, (o) => o.fallback && o.fallback.maxAge, 0.5],
  ['fallback.private: true', { fallback: { private: true } }, (o) => o.fallback && o.fallback.private, true],
  ["hedge.delay: 'p90'", { hedge: { delay: 'p90' } }, (o) => o.hedge && o.hedge.delay, 'p90'],
  ["hedge.delay: 'p99'", { hedge: { delay: 'p99' } }, (o) => o.hedge && o.hedge.delay, 'p99'],
  ['hedge.delay: ms', { hedge: { delay: 40 } }, (o) => o.hedge && o.hedge.delay, 40],
  ['hedge.budget: false', { hedge: { budget: false } }, (o) => o.hedge && o.hedge.budget, false],
  ['throttle: the bounds', { throttle: { k: 1, window: MAX, maxRejectRate: 0 } }, (o) => o.throttle, { k: 1, window: MAX, maxRejectRate: 0 }],
  ['throttle.maxRejectRate: just under 1', { throttle: { maxRejectRate: 0.999 } }, (o) => o.throttle && o.throttle.maxRejectRate, 0.999],
  ['coalesce: true', { coalesce: true }, (o) => o.coalesce, true],
  ['undefined fields take their defaults', { breaker: undefined, maxKeys: undefined, retry: { limit: undefined } }, (o) => [o.breaker && o.breaker.failureThreshold, o.maxKeys, o.retry && o.retry.limit], [5, 1_000, 2]],
]

describe('the values at each bound are taken, normalized', () => {
  it.each(taken)('%s', (_name, options, read, expected) => {
    expect(read(normalizeOptions(options as never))).toStrictEqual(expected)
    expect(() => createResilientFetch(options as never)).not.toThrow()
  })

  it('a FallbackStore of the caller, a fetch, a key, an isFailure and a share are kept as given', () => {
    const store = { get: async () => undefined, put: async () => {}, delete: async () => {}, clear: async () => {} }
    const share = { connect: () => ({}) }
    const fetch = async () => new Response('')
    const key = () => 'k'
    const isFailure = () => false
    const o = normalizeOptions({ fallback: { store }, share: share as never, fetch, key, isFailure })
    expect(o.fallback && o.fallback.store).toBe(store)
    expect(o.share).toBe(share)
    expect([o.fetch, o.key, o.isFailure]).toEqual([fetch, key, isFailure])
  })
})
