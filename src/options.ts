/**
 * The options of createResilientFetch and of one call, as schemas (src/schema.ts): each option's check
 * and default here, its documentation in types.ts. The normalized types are what the checks return.
 */
import type { BreakerShare, CallOptions, FallbackStore, Outcome, ResilientFetchOptions, RetryOptions, TimeoutOptions } from './types.js'
import { isFailureDefault } from './classify.js'
import {
  anything,
  boolean,
  deadline,
  duration,
  factor,
  fail,
  func,
  isPlainObject,
  limit,
  methods,
  nonEmptyString,
  nonNegativeInteger,
  numberIs,
  oneOf,
  optional,
  orFalse,
  positiveInteger,
  positiveLimit,
  ratio,
  record,
  refine,
  statusCodes,
  struct,
  withMethods,
  type Check,
  type Checked,
} from './schema.js'

type Window = { type: 'consecutive' } | { type: 'count'; size: number } | { type: 'time'; duration: number }

// Most checks that one field alone uses are written in that field: a named one costs a few bytes in the browser bundle.

/** A growing duration's cap must not sit under its start. */
const maxAtLeastBase = <T extends { base: number; max: number }>(o: T, path: string): T => (o.max < o.base ? fail(`${path}.max`, `at least base (${o.base})`, o.max) : o)

export const openDurationBackoff = refine(struct({ base: duration, max: duration, multiplier: [factor, 2], jitter: [ratio, 0.1] }), maxAtLeastBase)

/** ms (a fixed duration), or a duration growing on each re-open. */
const openDuration: Check<Checked<typeof openDurationBackoff>> = (value, path) => {
  // Not an object: a number, checked as one (a string of digits is told to lose its quotes).
  if (typeof value === 'object') return openDurationBackoff(value, path)
  const d = duration(value, path)
  return { base: d, max: d, multiplier: 1, jitter: 0 }
}

/** A count window keeps a slot per call in it, for each key: past this, a key's first call would fail to allocate it. */
const countSize = refine(positiveInteger, numberIs((n) => n <= 100_000, 'at most 100000'))

export const breakerSchema = refine(
  struct({
    window: [
      // 'consecutive', or a sized window.
      (value: unknown, path: string): Window => {
        if (value === 'consecutive') return { type: value }
        if (!isPlainObject(value)) fail(path, "'consecutive', { type: 'count', size } or { type: 'time', duration }", value, true)
        // The two sized windows, chosen by `type`.
        const sized = { count: struct({ type: anything<'count'>, size: countSize }), time: struct({ type: anything<'time'>, duration }) }
        return sized[oneOf(['count', 'time'] as const)(value.type, `${path}.type`)](value, path)
      },
      { type: 'time', duration: 30_000 },
    ],
    failureThreshold: [positiveInteger, 5],
    failureRate: optional(ratio),
    slowCall: optional(struct({ duration, rate: ratio })),
    openDuration: [openDuration, 30_000],
    halfOpen: [struct({ probes: [positiveInteger, 1], successesToClose: [positiveInteger, 1] }), {}],
    retryAfter: [boolean, true],
  }),
  // A count window of fewer attempts than the threshold never holds enough failures to open. The breaker reads the half-open settings beside the others.
  (b, path) =>
    b.window.type === 'count' && b.window.size < b.failureThreshold
      ? fail(`${path}.window.size`, `at least failureThreshold (${b.failureThreshold})`, b.window.size)
      : { ...b, ...b.halfOpen },
)

export const bulkheadSchema = struct({
  maxConcurrent: [positiveInteger, 50],
  maxQueue: [nonNegativeInteger, 100],
  queueTimeout: [duration, 5_000],
})

export const attemptAndTotal = struct({ attempt: [deadline, 10_000], total: [deadline, 30_000] })

/**
 * A number is the attempt timeout (the total keeps its default); false: no deadline at all. Per call, `base` is
 * the instance's timeout: what the call does not write comes from it, not from the defaults.
 */
export const timeoutSchema = (value: unknown, path: string, base?: NormalizedTimeout): NormalizedTimeout => {
  if (value === false) return { attempt: false, total: false }
  const object = typeof value === 'object' && value !== null
  const t = object ? attemptAndTotal(value, path, base) : { attempt: deadline(value, path), total: (base ?? attemptAndTotal({}, path)).total }
  // A total written alone may be shorter than the attempt deadline it keeps (a call that must end sooner).
  if (object && (value as TimeoutOptions).attempt === undefined) return t
  // An attempt deadline written past the total one would never fire: the total cuts every attempt first.
  // No deadline (false) is never past one: as an attempt it compares as 0, as a total it is Infinity.
  if ((t.attempt as number) > ((t.total as number) || Infinity)) {
    throw new RangeError(`${object ? `${path}.attempt` : path} (${t.attempt} ms) must not exceed ${(value as TimeoutOptions).total !== undefined ? `${path}.total (${t.total} ms)` : `the total deadline (${t.total} ms ${base ? 'on the instance' : 'by default'})`}`)
  }
  return t
}

export const retryPolicy = struct({
  limit: [nonNegativeInteger, 2],
  methods: [methods, ['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE']],
  statusCodes: [statusCodes, [408, 429, 500, 502, 503, 504]],
  backoff: [
    refine(
      struct({ base: [duration, 300], max: optional(duration), jitter: [oneOf(['full', 'equal', 'none'] as const), 'full'] }),
      (b, path) => maxAtLeastBase({ ...b, max: b.max ?? Math.max(10_000, b.base) }, path),
    ),
    {},
  ],
  maxRetryAfter: [limit, 60_000],
  budget: [orFalse(struct({ ratio: [ratio, 0.2], min: [nonNegativeInteger, 10] })), {}],
})

/**
 * A number (anything but an object) is the limit; false: no retries. Per call, `base` is the instance's policy: each field the call writes
 * replaces the instance's, the others are the instance's (without one, retry: false, the defaults).
 */
export const retrySchema = (value: unknown, path: string, base?: NormalizedRetry | false): NormalizedRetry | false =>
  value === false ? false : retryPolicy(typeof value === 'object' ? value : { limit: value }, path, base)

export const fallbackSchema = struct({
  store: [
    // One of the stores built in, or the caller's own.
    (value: unknown, path: string): 'auto' | 'memory' | FallbackStore =>
      value === 'auto' || value === 'memory' ? value : withMethods<FallbackStore>("'auto', 'memory' or a FallbackStore", ['get', 'put', 'delete', 'clear'])(value, path),
    'auto',
  ],
  maxAge: [positiveLimit, 86_400_000],
  maxBodyBytes: [positiveInteger, 5 * 1024 * 1024],
  private: [boolean, false],
})

export const hedgeSchema = struct({
  delay: [
    // ms, or a percentile of the key's recent latency.
    (value: unknown, path: string): number | 'p90' | 'p95' | 'p99' =>
      ['p90', 'p95', 'p99'].includes(value as never) ? (value as 'p90') : typeof value === 'number' ? duration(value, path) : fail(path, "a number of ms or 'p90', 'p95', 'p99'", value, true),
    'p95',
  ],
  maxHedges: [positiveInteger, 1],
  methods: [methods, ['GET', 'HEAD']],
  budget: [orFalse(struct({ ratio: [ratio, 0.1], min: [nonNegativeInteger, 5] })), {}],
})

export const throttleSchema = struct({
  k: [factor, 2],
  window: [duration, 120_000],
  // Some attempts must reach the upstream to see it recover.
  maxRejectRate: [refine(ratio, numberIs((p) => p < 1, 'below 1')), 0.9],
})

/** Every option of createResilientFetch. */
export const optionsSchema = struct({
  fetch: optional(func<typeof globalThis.fetch>),
  key: optional(func<(request: Request) => string>),
  breaker: [orFalse(breakerSchema), {}],
  bulkhead: [orFalse(bulkheadSchema), {}],
  timeout: [timeoutSchema, {}],
  retry: [retrySchema, {}],
  isFailure: [func<(outcome: Outcome) => boolean>, isFailureDefault],
  fallback: [orFalse(fallbackSchema), {}],
  maxKeys: [positiveInteger, 1_000],
  share: optional(withMethods<BreakerShare>('a BreakerShare', ['connect'])),
  hedge: [orFalse(hedgeSchema), false],
  throttle: [orFalse(throttleSchema), false],
  coalesce: [boolean, false],
})

export type NormalizedOptions = Checked<typeof optionsSchema>
export type NormalizedBreaker = Checked<typeof breakerSchema>
export type NormalizedBulkhead = Checked<typeof bulkheadSchema>
export type NormalizedTimeout = Checked<typeof attemptAndTotal>
export type NormalizedRetry = Checked<typeof retryPolicy>
export type NormalizedFallback = Checked<typeof fallbackSchema>
export type NormalizedHedge = Checked<typeof hedgeSchema>
export type NormalizedThrottle = Checked<typeof throttleSchema>

export const normalizeOptions = (options: ResilientFetchOptions | undefined): NormalizedOptions => optionsSchema(options, '')
export const normalizeBreaker = (value: unknown): NormalizedBreaker | false => orFalse(breakerSchema)(value, 'breaker')
export const normalizeBulkhead = (value: unknown): NormalizedBulkhead | false => orFalse(bulkheadSchema)(value, 'bulkhead')
export const normalizeFallback = (value: unknown): NormalizedFallback | false => orFalse(fallbackSchema)(value, 'fallback')
export const normalizeHedge = (value: unknown): NormalizedHedge | false => orFalse(hedgeSchema)(value ?? false, 'hedge')
export const normalizeThrottle = (value: unknown): NormalizedThrottle | false => orFalse(throttleSchema)(value ?? false, 'throttle')

// Pure: a bundle that never reads it (the browser's) drops it.
const DEFAULT_TIMEOUT = /* @__PURE__ */ timeoutSchema({}, 'timeout')

export function normalizeTimeout(value: number | TimeoutOptions | false | undefined, path = 'timeout'): NormalizedTimeout {
  return value === undefined ? DEFAULT_TIMEOUT : timeoutSchema(value, path)
}

export function normalizeRetry(value: number | RetryOptions | false | undefined, path = 'retry'): NormalizedRetry | false {
  return retrySchema(value === undefined ? {} : value, path)
}

/** The per-call options: checked on every call that has them, so checked in place (nothing allocated). */
const CALL_CHECKS: Record<keyof CallOptions, Check<unknown>> = {
  key: nonEmptyString,
  // Normalized where the call reads them, with the same path.
  timeout: anything,
  retry: anything,
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
  // Known options only, inherited ones too (the call reads them): anything else inherited is not ours to refuse.
  for (const k of CALL_OPTIONS) if (given[k] !== undefined) CALL_CHECKS[k as keyof CallOptions](given[k], `resilience.${k}`)
  return given as CallOptions
}
