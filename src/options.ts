import type {
  BreakerOptions,
  BulkheadOptions,
  BreakerShare,
  FallbackStore,
  HedgeOptions,
  Outcome,
  ResilientFetchOptions,
  RetryOptions,
  ThrottleOptions,
  TimeoutOptions,
} from './types.js'
import { isFailureDefault } from './classify.js'
import { show } from './validate.js'
import { MAX_TIMER_MS } from './deadline.js'

export interface NormalizedBreaker {
  window: { type: 'consecutive' } | { type: 'count'; size: number } | { type: 'time'; duration: number }
  failureThreshold: number
  failureRate: number | undefined
  slowCall: { duration: number; rate: number } | undefined
  openDuration: { base: number; max: number; multiplier: number; jitter: number }
  probes: number
  successesToClose: number
  retryAfter: boolean
}

export interface NormalizedBulkhead {
  maxConcurrent: number
  maxQueue: number
  queueTimeout: number
}

export interface NormalizedTimeout {
  attempt: number | false
  total: number | false
}

export interface NormalizedRetry {
  limit: number
  methods: ReadonlySet<string>
  statusCodes: ReadonlySet<number>
  backoff: { base: number; max: number; jitter: 'full' | 'equal' | 'none' }
  maxRetryAfter: number
  budget: { ratio: number; min: number } | false
}

export interface NormalizedFallback {
  store: 'auto' | 'memory' | FallbackStore
  maxAge: number
  maxBodyBytes: number
  private: boolean
}

export interface NormalizedOptions {
  fetch: typeof globalThis.fetch | undefined
  key: ((request: Request) => string) | undefined
  breaker: NormalizedBreaker | false
  bulkhead: NormalizedBulkhead | false
  timeout: NormalizedTimeout
  retry: NormalizedRetry | false
  isFailure: (outcome: Outcome) => boolean
  fallback: NormalizedFallback | false
  maxKeys: number
  share: BreakerShare | undefined
  hedge: NormalizedHedge | false
  throttle: NormalizedThrottle | false
  coalesce: boolean
}

export interface NormalizedHedge {
  /** ms, or a percentile of the key's recent attempt latency. */
  delay: number | 'p90' | 'p95' | 'p99'
  maxHedges: number
  methods: ReadonlySet<string>
  budget: { ratio: number; min: number } | false
}

export interface NormalizedThrottle {
  k: number
  window: number
  maxRejectRate: number
}

const DEFAULT_TIMEOUT: NormalizedTimeout = { attempt: 10_000, total: 30_000 }

function fail(kind: 'type' | 'range', name: string, what: string, value: unknown): never {
  const message = `${name} must be ${what}, got ${show(value)}`
  throw kind === 'type' ? new TypeError(message) : new RangeError(message)
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function object(name: string, value: unknown, known: readonly string[]): Record<string, unknown> {
  if (!isPlainObject(value)) fail('type', name, 'an object', value)
  for (const k of Object.keys(value)) {
    if (!known.includes(k)) throw new TypeError(`${name}.${k} is not an option (known: ${known.join(', ')})`)
  }
  return value
}

function number(name: string, value: unknown): number {
  if (typeof value !== 'number' || Number.isNaN(value)) fail('type', name, 'a number', value)
  return value
}

/** A duration in ms: finite and > 0. */
function ms(name: string, value: unknown): number {
  const n = number(name, value)
  if (!(n > 0) || !Number.isFinite(n)) fail('range', name, 'a positive finite number of ms', value)
  return n
}

/** A duration a timer waits: past 2^31−1 ms setTimeout would fire at once, so longer is refused, not clamped. */
function timerMs(name: string, value: unknown): number {
  const n = ms(name, value)
  if (n > MAX_TIMER_MS) fail('range', name, `at most ${MAX_TIMER_MS} ms (about 24.8 days, the longest a timer waits)`, value)
  return n
}

function positiveInt(name: string, value: unknown): number {
  const n = number(name, value)
  if (!Number.isInteger(n) || n < 1) fail('range', name, 'a positive integer', value)
  return n
}

function nonNegativeInt(name: string, value: unknown): number {
  const n = number(name, value)
  if (!Number.isInteger(n) || n < 0) fail('range', name, 'a non-negative integer', value)
  return n
}

function ratio(name: string, value: unknown): number {
  const n = number(name, value)
  if (!(n >= 0 && n <= 1)) fail('range', name, 'a number from 0 to 1', value)
  return n
}

function boolean(name: string, value: unknown): boolean {
  if (typeof value !== 'boolean') fail('type', name, 'a boolean', value)
  return value
}

function fn<T>(name: string, value: unknown): T {
  if (typeof value !== 'function') fail('type', name, 'a function', value)
  return value as T
}

function normalizeWindow(value: unknown): NormalizedBreaker['window'] {
  if (value === undefined) return { type: 'time', duration: 30_000 }
  if (value === 'consecutive') return { type: 'consecutive' }
  if (!isPlainObject(value)) fail('type', 'breaker.window', "'consecutive', { type: 'count', size } or { type: 'time', duration }", value)
  if (value.type === 'count') {
    object('breaker.window', value, ['type', 'size'])
    return { type: 'count', size: positiveInt('breaker.window.size', value.size) }
  }
  if (value.type === 'time') {
    object('breaker.window', value, ['type', 'duration'])
    return { type: 'time', duration: ms('breaker.window.duration', value.duration) }
  }
  return fail('type', 'breaker.window.type', "'count' or 'time'", value.type)
}

function normalizeOpenDuration(value: unknown): NormalizedBreaker['openDuration'] {
  if (value === undefined) return { base: 30_000, max: 30_000, multiplier: 1, jitter: 0 }
  if (typeof value === 'number') {
    const d = ms('breaker.openDuration', value)
    return { base: d, max: d, multiplier: 1, jitter: 0 }
  }
  const o = object('breaker.openDuration', value, ['base', 'max', 'multiplier', 'jitter'])
  const base = ms('breaker.openDuration.base', o.base)
  const max = ms('breaker.openDuration.max', o.max)
  if (max < base) fail('range', 'breaker.openDuration.max', `at least base (${base})`, max)
  const multiplier = o.multiplier === undefined ? 2 : number('breaker.openDuration.multiplier', o.multiplier)
  if (!(multiplier >= 1) || !Number.isFinite(multiplier)) fail('range', 'breaker.openDuration.multiplier', 'a finite number >= 1', multiplier)
  const jitter = o.jitter === undefined ? 0.1 : ratio('breaker.openDuration.jitter', o.jitter)
  return { base, max, multiplier, jitter }
}

export function normalizeBreaker(value: BreakerOptions | false | undefined): NormalizedBreaker | false {
  if (value === false) return false
  const o = object('breaker', value ?? {}, ['window', 'failureThreshold', 'failureRate', 'slowCall', 'openDuration', 'halfOpen', 'retryAfter'])
  let slowCall: NormalizedBreaker['slowCall']
  if (o.slowCall !== undefined) {
    const s = object('breaker.slowCall', o.slowCall, ['duration', 'rate'])
    slowCall = { duration: ms('breaker.slowCall.duration', s.duration), rate: ratio('breaker.slowCall.rate', s.rate) }
  }
  const halfOpen = object('breaker.halfOpen', o.halfOpen ?? {}, ['probes', 'successesToClose'])
  return {
    window: normalizeWindow(o.window),
    failureThreshold: o.failureThreshold === undefined ? 5 : positiveInt('breaker.failureThreshold', o.failureThreshold),
    failureRate: o.failureRate === undefined ? undefined : ratio('breaker.failureRate', o.failureRate),
    slowCall,
    openDuration: normalizeOpenDuration(o.openDuration),
    probes: halfOpen.probes === undefined ? 1 : positiveInt('breaker.halfOpen.probes', halfOpen.probes),
    successesToClose: halfOpen.successesToClose === undefined ? 1 : positiveInt('breaker.halfOpen.successesToClose', halfOpen.successesToClose),
    retryAfter: o.retryAfter === undefined ? true : boolean('breaker.retryAfter', o.retryAfter),
  }
}

export function normalizeBulkhead(value: BulkheadOptions | false | undefined): NormalizedBulkhead | false {
  if (value === false) return false
  const o = object('bulkhead', value ?? {}, ['maxConcurrent', 'maxQueue', 'queueTimeout'])
  return {
    maxConcurrent: o.maxConcurrent === undefined ? 50 : positiveInt('bulkhead.maxConcurrent', o.maxConcurrent),
    maxQueue: o.maxQueue === undefined ? 100 : nonNegativeInt('bulkhead.maxQueue', o.maxQueue),
    queueTimeout: o.queueTimeout === undefined ? 5_000 : timerMs('bulkhead.queueTimeout', o.queueTimeout),
  }
}

export function normalizeTimeout(value: number | TimeoutOptions | false | undefined, name = 'timeout'): NormalizedTimeout {
  if (value === undefined) return DEFAULT_TIMEOUT
  if (value === false) return { attempt: false, total: false }
  // Infinity means what false means: no deadline.
  if (typeof value === 'number') return { attempt: value === Infinity ? false : timerMs(name, value), total: DEFAULT_TIMEOUT.total }
  const o = object(name, value, ['attempt', 'total'])
  const pick = (k: 'attempt' | 'total') =>
    o[k] === undefined ? DEFAULT_TIMEOUT[k] : o[k] === false || o[k] === Infinity ? false : timerMs(`${name}.${k}`, o[k])
  return { attempt: pick('attempt'), total: pick('total') }
}

const DEFAULT_METHODS = ['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE']
const DEFAULT_STATUS_CODES = [408, 429, 500, 502, 503, 504]

export function normalizeRetry(value: number | RetryOptions | false | undefined, name = 'retry'): NormalizedRetry | false {
  if (value === false) return false
  if (typeof value === 'number') value = { limit: value }
  const o = object(name, value ?? {}, ['limit', 'methods', 'statusCodes', 'backoff', 'maxRetryAfter', 'budget'])
  const limit = o.limit === undefined ? 2 : nonNegativeInt(`${name}.limit`, o.limit)
  const methods = o.methods ?? DEFAULT_METHODS
  if (!Array.isArray(methods) || methods.some((m) => typeof m !== 'string' || m === '')) fail('type', `${name}.methods`, 'an array of method names', methods)
  const statusCodes = o.statusCodes ?? DEFAULT_STATUS_CODES
  if (!Array.isArray(statusCodes) || statusCodes.some((c) => !Number.isInteger(c) || c < 100 || c > 599)) {
    fail('type', `${name}.statusCodes`, 'an array of HTTP status codes (100-599)', statusCodes)
  }
  const b = object(`${name}.backoff`, o.backoff ?? {}, ['base', 'max', 'jitter'])
  const base = b.base === undefined ? 300 : timerMs(`${name}.backoff.base`, b.base)
  const max = b.max === undefined ? Math.max(10_000, base) : timerMs(`${name}.backoff.max`, b.max)
  if (max < base) fail('range', `${name}.backoff.max`, `at least backoff.base (${base})`, max)
  const jitter = b.jitter ?? 'full'
  if (jitter !== 'full' && jitter !== 'equal' && jitter !== 'none') fail('type', `${name}.backoff.jitter`, "'full', 'equal' or 'none'", jitter)
  const maxRetryAfter = o.maxRetryAfter === undefined ? 60_000 : number(`${name}.maxRetryAfter`, o.maxRetryAfter)
  if (!(maxRetryAfter >= 0)) fail('range', `${name}.maxRetryAfter`, 'a non-negative number of ms', maxRetryAfter)
  let budget: NormalizedRetry['budget'] = { ratio: 0.2, min: 10 }
  if (o.budget === false) budget = false
  else if (o.budget !== undefined) {
    const bo = object(`${name}.budget`, o.budget, ['ratio', 'min'])
    budget = {
      ratio: bo.ratio === undefined ? 0.2 : ratio(`${name}.budget.ratio`, bo.ratio),
      min: bo.min === undefined ? 10 : nonNegativeInt(`${name}.budget.min`, bo.min),
    }
  }
  return {
    limit,
    methods: new Set((methods as string[]).map((m) => m.toUpperCase())),
    statusCodes: new Set(statusCodes as number[]),
    backoff: { base, max, jitter },
    maxRetryAfter,
    budget,
  }
}

export function normalizeFallback(value: ResilientFetchOptions['fallback']): NormalizedFallback | false {
  if (value === false) return false
  const o = object('fallback', value ?? {}, ['store', 'maxAge', 'maxBodyBytes', 'private'])
  const store = o.store ?? 'auto'
  if (store !== 'auto' && store !== 'memory') {
    const s = store as Partial<FallbackStore>
    if (typeof s !== 'object' || s === null) fail('type', 'fallback.store', "'auto', 'memory' or a FallbackStore", store)
    for (const method of ['get', 'put', 'delete', 'clear'] as const) {
      if (typeof s[method] !== 'function') fail('type', 'fallback.store', `'auto', 'memory' or a FallbackStore (missing ${method}())`, store)
    }
  }
  return {
    store: store as NormalizedFallback['store'],
    maxAge: o.maxAge === undefined ? 86_400_000 : ms('fallback.maxAge', o.maxAge),
    maxBodyBytes: o.maxBodyBytes === undefined ? 5 * 1024 * 1024 : positiveInt('fallback.maxBodyBytes', o.maxBodyBytes),
    private: o.private === undefined ? false : boolean('fallback.private', o.private),
  }
}

function methodSet(name: string, value: unknown, fallback: readonly string[]): ReadonlySet<string> {
  const methods = value ?? fallback
  if (!Array.isArray(methods) || methods.some((m) => typeof m !== 'string' || m === '')) fail('type', name, 'an array of method names', methods)
  return new Set((methods as string[]).map((m) => m.toUpperCase()))
}

function budgetOf(name: string, value: unknown, defaults: { ratio: number; min: number }): { ratio: number; min: number } | false {
  if (value === false) return false
  if (value === undefined) return defaults
  const o = object(name, value, ['ratio', 'min'])
  return {
    ratio: o.ratio === undefined ? defaults.ratio : ratio(`${name}.ratio`, o.ratio),
    min: o.min === undefined ? defaults.min : nonNegativeInt(`${name}.min`, o.min),
  }
}

export function normalizeHedge(value: HedgeOptions | false | undefined): NormalizedHedge | false {
  if (value === undefined || value === false) return false
  const o = object('hedge', value, ['delay', 'maxHedges', 'methods', 'budget'])
  const delay = o.delay ?? 'p95'
  if (delay !== 'p90' && delay !== 'p95' && delay !== 'p99' && typeof delay !== 'number') fail('type', 'hedge.delay', "a number of ms or 'p90', 'p95', 'p99'", delay)
  return {
    delay: typeof delay === 'number' ? timerMs('hedge.delay', delay) : delay,
    maxHedges: o.maxHedges === undefined ? 1 : positiveInt('hedge.maxHedges', o.maxHedges),
    methods: methodSet('hedge.methods', o.methods, ['GET', 'HEAD']),
    budget: budgetOf('hedge.budget', o.budget, { ratio: 0.1, min: 5 }),
  }
}

export function normalizeThrottle(value: ThrottleOptions | false | undefined): NormalizedThrottle | false {
  if (value === undefined || value === false) return false
  const o = object('throttle', value, ['k', 'window', 'maxRejectRate'])
  const k = o.k === undefined ? 2 : number('throttle.k', o.k)
  if (!(k >= 1) || !Number.isFinite(k)) fail('range', 'throttle.k', 'a finite number >= 1', k)
  const maxRejectRate = o.maxRejectRate === undefined ? 0.9 : ratio('throttle.maxRejectRate', o.maxRejectRate)
  if (maxRejectRate === 1) fail('range', 'throttle.maxRejectRate', 'below 1 (some attempts must reach the upstream to see it recover)', maxRejectRate)
  return { k, window: o.window === undefined ? 120_000 : ms('throttle.window', o.window), maxRejectRate }
}

export function normalizeOptions(options: ResilientFetchOptions | undefined): NormalizedOptions {
  const o = object('options', options ?? {}, ['fetch', 'key', 'breaker', 'bulkhead', 'timeout', 'retry', 'isFailure', 'fallback', 'maxKeys', 'share', 'hedge', 'throttle', 'coalesce'])
  if (o.share !== undefined && (typeof o.share !== 'object' || o.share === null || typeof (o.share as BreakerShare).connect !== 'function')) {
    fail('type', 'share', 'a BreakerShare (an object with connect())', o.share)
  }
  return {
    fetch: o.fetch === undefined ? undefined : fn('fetch', o.fetch),
    key: o.key === undefined ? undefined : fn('key', o.key),
    breaker: normalizeBreaker(o.breaker as BreakerOptions | false | undefined),
    bulkhead: normalizeBulkhead(o.bulkhead as BulkheadOptions | false | undefined),
    timeout: normalizeTimeout(o.timeout as TimeoutOptions | undefined),
    retry: normalizeRetry(o.retry as RetryOptions | undefined),
    isFailure: o.isFailure === undefined ? isFailureDefault : fn('isFailure', o.isFailure),
    fallback: normalizeFallback(o.fallback as ResilientFetchOptions['fallback']),
    maxKeys: o.maxKeys === undefined ? 1_000 : positiveInt('maxKeys', o.maxKeys),
    share: o.share as BreakerShare | undefined,
    hedge: normalizeHedge(o.hedge as HedgeOptions | false | undefined),
    throttle: normalizeThrottle(o.throttle as ThrottleOptions | false | undefined),
    coalesce: o.coalesce === undefined ? false : boolean('coalesce', o.coalesce),
  }
}
