/**
 * The options of createResilientFetch and of one call, as schemas (src/schema.ts): each option's check
 * and default here, its documentation in types.ts. The normalized types are what the checks return.
 */
import type { BreakerShare, CallOptions, Outcome, ResilientFetchOptions, RetryOptions, TimeoutOptions } from './types.js'
import { isFailureDefault } from './classify.js'
import {
  boolean,
  deadline,
  duration,
  fail,
  func,
  limit,
  methods,
  nonEmptyString,
  nonNegativeInteger,
  number,
  oneOf,
  optional,
  orFalse,
  positiveInteger,
  positiveLimit,
  ratio,
  record,
  statusCodes,
  struct,
  refine,
  type Check,
  type Checked,
} from './schema.js'

const window: Check<{ type: 'consecutive' } | { type: 'count'; size: number } | { type: 'time'; duration: number }> = (value, path) => {
  if (value === 'consecutive') return { type: 'consecutive' }
  const type = (value as { type?: unknown } | null)?.type
  if (typeof value !== 'object' || value === null) fail(path, "'consecutive', { type: 'count', size } or { type: 'time', duration }", value, true)
  if (type === 'count') return { type, size: positiveInteger(record(value, path, ['type', 'size']).size, `${path}.size`) }
  if (type === 'time') return { type, duration: duration(record(value, path, ['type', 'duration']).duration, `${path}.duration`) }
  return fail(`${path}.type`, "'count' or 'time'", type, true)
}

export const openDurationBackoff = refine(
  struct({
    base: { check: duration },
    max: { check: duration },
    multiplier: { check: refine(number, (m, path) => (m >= 1 && Number.isFinite(m) ? m : fail(path, 'a finite number >= 1', m))), default: 2 },
    jitter: { check: ratio, default: 0.1 },
  }),
  (o, path) => (o.max < o.base ? fail(`${path}.max`, `at least base (${o.base})`, o.max) : o),
)

/** ms (a fixed duration), or a duration growing on each re-open. */
const openDuration: Check<Checked<typeof openDurationBackoff>> = (value, path) => {
  if (typeof value !== 'number') return openDurationBackoff(value, path)
  const d = duration(value, path)
  return { base: d, max: d, multiplier: 1, jitter: 0 }
}

export const breakerSchema = refine(
  struct({
    window: { check: window, default: { type: 'time', duration: 30_000 } },
    failureThreshold: { check: positiveInteger, default: 5 },
    failureRate: { check: optional(ratio) },
    slowCall: { check: optional(struct({ duration: { check: duration }, rate: { check: ratio } })) },
    openDuration: { check: openDuration, default: 30_000 },
    halfOpen: { check: struct({ probes: { check: positiveInteger, default: 1 }, successesToClose: { check: positiveInteger, default: 1 } }), default: {} },
    retryAfter: { check: boolean, default: true },
  }),
  ({ halfOpen, ...rest }) => ({ ...rest, probes: halfOpen.probes, successesToClose: halfOpen.successesToClose }),
)

export const bulkheadSchema = struct({
  maxConcurrent: { check: positiveInteger, default: 50 },
  maxQueue: { check: nonNegativeInteger, default: 100 },
  queueTimeout: { check: duration, default: 5_000 },
})

const DEFAULT_TOTAL = 30_000

export const attemptAndTotal = struct({
  attempt: { check: deadline, default: 10_000 },
  total: { check: deadline, default: DEFAULT_TOTAL },
})

/** A number is the attempt timeout (the total keeps its default); false: no deadline at all. */
export const timeoutSchema: Check<{ attempt: number | false; total: number | false }> = (value, path) => {
  if (value === false) return { attempt: false, total: false }
  if (typeof value === 'object' && value !== null) {
    const t = attemptAndTotal(value, path)
    // Both written, the attempt deadline past the total one: it would never fire, the total cuts every attempt first.
    const written = value as TimeoutOptions
    if (written.attempt !== undefined && written.total !== undefined && t.attempt !== false && t.total !== false && t.attempt > t.total) {
      throw new RangeError(`${path}.attempt (${t.attempt} ms) must not exceed ${path}.total (${t.total} ms): the total deadline would cut every attempt first`)
    }
    return t
  }
  const attempt = deadline(value, path)
  if (attempt !== false && attempt > DEFAULT_TOTAL) {
    throw new RangeError(`${path} (${attempt} ms, the attempt deadline) must not exceed the total deadline (${DEFAULT_TOTAL} ms by default): write { attempt: ${attempt}, total: ... }`)
  }
  return { attempt, total: DEFAULT_TOTAL }
}

const budget = (ratioDefault: number, minDefault: number) =>
  orFalse(struct({ ratio: { check: ratio, default: ratioDefault }, min: { check: nonNegativeInteger, default: minDefault } }))

const backoff = refine(
  struct({
    base: { check: duration, default: 300 },
    max: { check: optional(duration) },
    jitter: { check: oneOf(['full', 'equal', 'none'] as const), default: 'full' },
  }),
  (b, path) => {
    const max = b.max ?? Math.max(10_000, b.base)
    return max < b.base ? fail(`${path}.max`, `at least backoff.base (${b.base})`, max) : { ...b, max }
  },
)

export const retryPolicy = struct({
  limit: { check: nonNegativeInteger, default: 2 },
  methods: { check: methods, default: ['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE'] },
  statusCodes: { check: statusCodes, default: [408, 429, 500, 502, 503, 504] },
  backoff: { check: backoff, default: {} },
  maxRetryAfter: { check: limit, default: 60_000 },
  budget: { check: budget(0.2, 10), default: {} },
})

/** A number is the limit; false: no retries. */
export const retrySchema: Check<Checked<typeof retryPolicy> | false> = (value, path) =>
  value === false ? false : retryPolicy(typeof value === 'number' ? { limit: value } : value, path)

const store: Check<'auto' | 'memory' | import('./types.js').FallbackStore> = (value, path) => {
  if (value === 'auto' || value === 'memory') return value
  const what = "'auto', 'memory' or a FallbackStore"
  if (typeof value !== 'object' || value === null) fail(path, what, value, true)
  for (const method of ['get', 'put', 'delete', 'clear'] as const) {
    if (typeof (value as Record<string, unknown>)[method] !== 'function') fail(path, `${what} (missing ${method}())`, value, true)
  }
  return value as import('./types.js').FallbackStore
}

export const fallbackSchema = struct({
  store: { check: store, default: 'auto' },
  maxAge: { check: positiveLimit, default: 86_400_000 },
  maxBodyBytes: { check: positiveInteger, default: 5 * 1024 * 1024 },
  private: { check: boolean, default: false },
})

const hedgeDelay: Check<number | 'p90' | 'p95' | 'p99'> = (value, path) =>
  value === 'p90' || value === 'p95' || value === 'p99' ? value : typeof value === 'number' ? duration(value, path) : fail(path, "a number of ms or 'p90', 'p95', 'p99'", value, true)

export const hedgeSchema = struct({
  delay: { check: hedgeDelay, default: 'p95' },
  maxHedges: { check: positiveInteger, default: 1 },
  methods: { check: methods, default: ['GET', 'HEAD'] },
  budget: { check: budget(0.1, 5), default: {} },
})

export const throttleSchema = struct({
  k: { check: refine(number, (k, path) => (k >= 1 && Number.isFinite(k) ? k : fail(path, 'a finite number >= 1', k))), default: 2 },
  window: { check: duration, default: 120_000 },
  // Some attempts must reach the upstream to see it recover.
  maxRejectRate: { check: refine(ratio, (p, path) => (p < 1 ? p : fail(path, 'below 1 (some attempts must reach the upstream to see it recover)', p))), default: 0.9 },
})

const share: Check<BreakerShare | undefined> = (value, path) => {
  if (value === undefined) return undefined
  if (typeof value !== 'object' || value === null || typeof (value as BreakerShare).connect !== 'function') fail(path, 'a BreakerShare (an object with connect())', value, true)
  return value as BreakerShare
}

/** Off unless given (undefined or false: off). */
const offByDefault = <T>(check: Check<T>): Check<T | false> => (value, path) => (value === undefined || value === false ? false : check(value, path))

/** Every option of createResilientFetch. */
export const optionsSchema = struct({
  fetch: { check: optional(func<typeof globalThis.fetch>) },
  key: { check: optional(func<(request: Request) => string>) },
  breaker: { check: orFalse(breakerSchema), default: {} },
  bulkhead: { check: orFalse(bulkheadSchema), default: {} },
  timeout: { check: timeoutSchema, default: {} },
  retry: { check: retrySchema, default: {} },
  isFailure: { check: func<(outcome: Outcome) => boolean>, default: isFailureDefault },
  fallback: { check: orFalse(fallbackSchema), default: {} },
  maxKeys: { check: positiveInteger, default: 1_000 },
  share: { check: share },
  hedge: { check: offByDefault(hedgeSchema), default: false },
  throttle: { check: offByDefault(throttleSchema), default: false },
  coalesce: { check: boolean, default: false },
})

export type NormalizedOptions = Checked<typeof optionsSchema>
export type NormalizedBreaker = Checked<typeof breakerSchema>
export type NormalizedBulkhead = Checked<typeof bulkheadSchema>
export type NormalizedTimeout = Checked<typeof timeoutSchema>
export type NormalizedRetry = Checked<typeof retryPolicy>
export type NormalizedFallback = Checked<typeof fallbackSchema>
export type NormalizedHedge = Checked<typeof hedgeSchema>
export type NormalizedThrottle = Checked<typeof throttleSchema>

export const normalizeOptions = (options: ResilientFetchOptions | undefined): NormalizedOptions => optionsSchema(options, '')
export const normalizeBreaker = (value: unknown): NormalizedBreaker | false => orFalse(breakerSchema)(value, 'breaker')
export const normalizeBulkhead = (value: unknown): NormalizedBulkhead | false => orFalse(bulkheadSchema)(value, 'bulkhead')
export const normalizeFallback = (value: unknown): NormalizedFallback | false => orFalse(fallbackSchema)(value, 'fallback')
export const normalizeHedge = (value: unknown): NormalizedHedge | false => offByDefault(hedgeSchema)(value, 'hedge')
export const normalizeThrottle = (value: unknown): NormalizedThrottle | false => offByDefault(throttleSchema)(value, 'throttle')

const DEFAULT_TIMEOUT = timeoutSchema({}, 'timeout')

export function normalizeTimeout(value: number | TimeoutOptions | false | undefined, path = 'timeout'): NormalizedTimeout {
  return value === undefined ? DEFAULT_TIMEOUT : timeoutSchema(value, path)
}

export function normalizeRetry(value: number | RetryOptions | false | undefined, path = 'retry'): NormalizedRetry | false {
  return retrySchema(value === undefined ? {} : value, path)
}

/** The per-call options: checked on every call that has them, so checked in place (nothing allocated). */
const CALL_CHECKS: Record<keyof CallOptions, Check<unknown> | undefined> = {
  key: nonEmptyString,
  // Normalized where the call reads them, with the same path.
  timeout: undefined,
  retry: undefined,
  fallback: boolean,
  waitUntil: func,
  priority: oneOf(['high', 'normal', 'low'] as const),
  hedge: boolean,
  coalesce: boolean,
}
const CALL_OPTIONS = Object.keys(CALL_CHECKS)

/** Checks `init.resilience`; returns it as given (timeout and retry are normalized where the call uses them). */
export function checkCallOptions(value: unknown): CallOptions {
  const given = record(value, 'resilience', CALL_OPTIONS)
  for (const k in given) if (given[k] !== undefined) CALL_CHECKS[k as keyof CallOptions]?.(given[k], `resilience.${k}`)
  return given as CallOptions
}
