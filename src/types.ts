/**
 * Public types of resilient-fetch. The documentation of every option lives here.
 * Only global names that lib.dom, @cloudflare/workers-types and @types/node all declare appear here
 * (Request, Response, RequestInit, URL, AbortSignal, CustomEvent), so the types check in every runtime.
 */

/** What fetch takes as its first argument (lib.dom's `RequestInfo | URL`, a name Workers and Node lack). */
export type RequestInput = Request | string | URL

/** Options of addEventListener/removeEventListener (the members every runtime's EventTarget accepts). */
export interface ListenerOptions {
  /** Match a listener added in the capture phase. @default false */
  capture?: boolean
  /** Remove the listener after its first event. @default false */
  once?: boolean
  /** The listener never calls preventDefault. @default false */
  passive?: boolean
  /** Remove the listener when this signal aborts. */
  signal?: AbortSignal
}

export type BreakerState = 'closed' | 'open' | 'half-open' | 'forced-open' | 'disabled'

/** How the breaker remembers recent attempts. */
export type BreakerWindow =
  | 'consecutive'
  | { type: 'count'; size: number }
  | { type: 'time'; duration: number }

export interface OpenDurationBackoff {
  /** First open duration, ms. */
  base: number
  /** Longest open duration, ms. */
  max: number
  /** Growth on each re-open without a close in between. @default 2 */
  multiplier?: number
  /** Fraction of the duration taken off at random, 0..1. @default 0.1 */
  jitter?: number
}

export interface BreakerOptions {
  /** @default { type: 'time', duration: 30_000 } */
  window?: BreakerWindow
  /** Failures in the window that open the breaker. @default 5 */
  failureThreshold?: number
  /** Also require failures / calls >= failureRate (0..1) to open. */
  failureRate?: number
  /** Calls slower than `duration` ms are slow; opens when slowCalls >= failureThreshold and slowCalls / calls >= rate. */
  slowCall?: { duration: number; rate: number }
  /** ms, or a duration that grows on each re-open. @default 30_000 */
  openDuration?: number | OpenDurationBackoff
  /** @default { probes: 1, successesToClose: 1 } */
  halfOpen?: { probes?: number; successesToClose?: number }
  /** A 503/429 with Retry-After opens the key until then. @default true */
  retryAfter?: boolean
}

export interface BulkheadOptions {
  /** Attempts in flight per key. @default 50 */
  maxConcurrent?: number
  /** Calls waiting per key; 0 rejects at once when full. @default 100 */
  maxQueue?: number
  /** Longest wait in the queue, ms. @default 5_000 */
  queueTimeout?: number
}

export interface TimeoutOptions {
  /** Per attempt, to response headers, ms, at most 2_147_483_647 (what a timer can wait); false or Infinity: none. @default 10_000 */
  attempt?: number | false
  /** The whole call including retries and waits, ms, at most 2_147_483_647; false or Infinity: none. @default 30_000 */
  total?: number | false
}

export interface RetryOptions {
  /** Retries after the first attempt. @default 2 */
  limit?: number
  /** Method names, any case; each an HTTP token (`'GET,HEAD'` or `' HEAD'` is refused). @default ['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE'] */
  methods?: string[]
  /** Statuses retried (100..599), beside network errors and attempt timeouts. @default [408, 429, 500, 502, 503, 504] */
  statusCodes?: number[]
  /**
   * The wait before retry n: base × 2^(n−1), capped at `max` (without one: 10_000, or base when larger), then jittered:
   * 'full' draws it from [0, wait), 'equal' from [wait / 2, wait), 'none' keeps it. Read whole: absent fields are these defaults.
   * @default { base: 300, max: 10_000, jitter: 'full' }
   */
  backoff?: { base?: number; max?: number; jitter?: 'full' | 'equal' | 'none' }
  /** Honour Retry-After up to this many ms; a longer one is not retried. @default 60_000 */
  maxRetryAfter?: number
  /** Retries allowed per key over a 10 s window: min + ratio × calls. false: unlimited. @default { ratio: 0.2, min: 10 } */
  budget?: { ratio?: number; min?: number } | false
}

export interface Outcome {
  response?: Response
  error?: unknown
  /** ms from the attempt's start to its headers or failure. */
  duration: number
}

export interface StoredResponse {
  url: string
  status: number
  statusText: string
  headers: [string, string][]
  body: ArrayBuffer
  /** ms since the epoch. */
  storedAt: number
}

export interface FallbackStore {
  get(key: string): Promise<StoredResponse | undefined>
  put(key: string, entry: StoredResponse): Promise<void>
  delete(key: string): Promise<void>
  clear(): Promise<void>
}

export interface HedgeOptions {
  /**
   * How long an attempt may go without response headers before one more starts: ms, or a percentile
   * of this key's recent attempt latency (no hedge until the key has 20 samples).
   * @default 'p95'
   */
  delay?: number | 'p90' | 'p95' | 'p99'
  /** Extra attempts in flight for one call, each a further `delay` apart. @default 1 */
  maxHedges?: number
  /** Only these methods are hedged (any case, each an HTTP token; a per-call `hedge: true` opts any method in). @default ['GET', 'HEAD'] */
  methods?: string[]
  /** Hedges allowed per key over a 10 s window: min + ratio × calls. false: unlimited. @default { ratio: 0.1, min: 5 } */
  budget?: { ratio?: number; min?: number } | false
}

/**
 * Adaptive client-side throttling (Google SRE book, "Handling Overload"): per key, attempts are shed
 * locally with p = max(0, (requests − k·accepts) / (requests + 1)) over the window, ×2 for low-priority
 * calls and ×½ for high, capped at `maxRejectRate`. With a healthy upstream p is 0.
 */
export interface ThrottleOptions {
  /** How many requests per accepted one the upstream may see before shedding starts; lower sheds sooner. @default 2 */
  k?: number
  /** ms of history, per key. @default 120_000 */
  window?: number
  /** p never exceeds this (0 up to, not including, 1): some attempts always reach the upstream, to see it recover. @default 0.9 */
  maxRejectRate?: number
}

export interface FallbackOptions {
  /** 'auto': Cache API, else IndexedDB, else memory. @default 'auto' */
  store?: 'auto' | 'memory' | FallbackStore
  /** Oldest entry that may be served, ms. @default 86_400_000 */
  maxAge?: number
  /** Larger bodies are not stored. @default 5 * 1024 * 1024 */
  maxBodyBytes?: number
  /** Store responses to credentialed requests, `private` and Set-Cookie responses. @default false */
  private?: boolean
}

export interface ResilientFetchOptions {
  /** The transport. @default globalThis.fetch, looked up at call time */
  fetch?: typeof globalThis.fetch
  /** One breaker and bulkhead per key. @default the URL's origin */
  key?: (request: Request) => string
  breaker?: BreakerOptions | false
  bulkhead?: BulkheadOptions | false
  /** A number is the attempt timeout. @default { attempt: 10_000, total: 30_000 } */
  timeout?: number | TimeoutOptions | false
  /** A number is the limit. @default { limit: 2, ... } */
  retry?: number | RetryOptions | false
  /** @default network error, timeout, status >= 500, 408, 429; user aborts never count */
  isFailure?: (outcome: Outcome) => boolean
  fallback?: FallbackOptions | false
  /**
   * Breakers and bulkheads kept; least recently used idle keys are dropped first. A key with a call in flight or a
   * breaker that is not closed (open, half-open, forced open, disabled) is never dropped, so the count may pass this
   * while they last; a dropped key's counters start again at 0. @default 1_000
   */
  maxKeys?: number
  /**
   * Share breaker state with other tabs (`shareAcrossTabs()` from `resilient-fetch/share`) or other
   * Worker isolates (`durableObjectShare()` from `resilient-fetch/worker`). Off by default.
   */
  share?: BreakerShare
  /** Hedged requests against tail latency: one more attempt when an answer is late. Off by default. @default false */
  hedge?: HedgeOptions | false
  /** Shed attempts locally while the upstream fails most of them. Off by default. @default false */
  throttle?: ThrottleOptions | false
  /**
   * Single-flight: a GET identical to one still waiting for its response headers (same key, URL and
   * header values; no body, Authorization, Cookie, or cache 'no-store'/'reload') joins it instead of
   * sending. Each caller gets its own Response; a copy more than 1 MiB behind the fastest reader errors.
   * In a Cloudflare Worker (or Durable Object), only a call that passed `waitUntil` is joined by others.
   * @default false
   */
  coalesce?: boolean
}

/** A breaker's state as the participants of a share see it. */
export interface SharedBreakerState {
  state: BreakerState
  openedAt?: number
  /** When an open breaker lets a probe through; absent while forced open with no end. */
  openUntil?: number
  /**
   * When the state was entered (ms epoch): a participant ignores a view older than its own state. Half-open, only
   * noticed, is dated as the open it follows.
   */
  at: number
}

/**
 * How breakers of one key learn from each other across tabs, reloads or isolates. Every method but
 * `connect` is optional; none is awaited on the hot path except `acquireProbe`, in half-open only.
 */
export interface BreakerShare {
  /** Called once by the instance with a function that applies another participant's state to the local breaker. */
  connect(apply: (key: string, state: SharedBreakerState) => void): void
  /** The state a local breaker starts from when its key is first used (persisted, or last heard). */
  initial?(key: string): SharedBreakerState | undefined
  /** The local breaker changed state (not called for states applied from others). */
  publish?(key: string, state: SharedBreakerState): void
  /** An attempt's outcome, for a coordinator that judges the fleet's combined outcomes. Must not block. */
  record?(key: string, failure: boolean, slow: boolean, waitUntil?: (promise: Promise<unknown>) => void): void
  /** Before a local half-open probe: may this participant send it? Resolve false to refuse; a rejection lets it through. */
  acquireProbe?(key: string, ttl: number, waitUntil?: (promise: Promise<unknown>) => void): Promise<boolean>
  /** The probe granted by acquireProbe has ended. */
  releaseProbe?(key: string): void
}

export interface CallOptions {
  /** Use this key instead of the instance's key function. */
  key?: string
  /**
   * This call's deadlines, over the instance's: what is written replaces, what is not stays the instance's.
   * A number is the attempt deadline (the total stays the instance's; past it, the call is refused with a
   * RangeError); `{ attempt }` keeps the instance's total, `{ total }` its attempt deadline; false: no deadline.
   * @default the instance's `timeout`
   */
  timeout?: number | TimeoutOptions | false
  /**
   * This call's retry policy, over the instance's: a number is the instance's policy with this `limit`;
   * in an object each field written replaces the instance's field (a `backoff` or `budget` object is read
   * whole, its absent fields from the defaults, as in the instance's options); false: no retries. On an
   * instance with `retry: false` the defaults stand in for the instance's policy.
   * @default the instance's `retry`
   */
  retry?: number | RetryOptions | false
  /** false: neither store nor serve a fallback copy for this call. */
  fallback?: boolean
  /** A Worker's ctx.waitUntil, so background work outlives the response. */
  waitUntil?: (promise: Promise<unknown>) => void
  /**
   * Where the call queues in the bulkhead: high before normal before low; also scales throttling.
   * @default from fetch's init.priority: 'high' → 'high', 'low' → 'low', else 'normal'
   */
  priority?: 'high' | 'normal' | 'low'
  /** false: never hedge this call; true: hedge it whatever its method (where the instance hedges). */
  hedge?: boolean
  /** false: this call neither joins an identical call in flight nor is joined (where the instance coalesces). */
  coalesce?: boolean
}

export type ResilientRequestInit = RequestInit & { resilience?: CallOptions }

export interface BreakerControl {
  readonly key: string
  readonly state: BreakerState
  /** Force open, for `ms` (then half-open) or until close()/reset(). */
  open(ms?: number): void
  /** Close and forget the window. */
  close(): void
  /** Close, forget the window and the re-open count. */
  reset(): void
  /** Let every call through and record nothing, until close() or reset(). */
  disable(): void
}

export interface BreakerSnapshot {
  key: string
  state: BreakerState
  /** Attempts in the current window. */
  calls: number
  failures: number
  slowCalls: number
  failureRate: number
  /** Attempts refused by the breaker since the key was created. */
  rejected: number
  /** State changes since the key was created. */
  transitions: number
  openedAt?: number
  nextProbeAt?: number
}

export interface BulkheadSnapshot {
  key: string
  active: number
  queued: number
  maxConcurrent: number
  maxQueue: number
  rejected: number
}

export interface ResilienceTotals {
  requests: number
  successes: number
  failures: number
  rejected: number
  /**
   * Attempts that hit a deadline we armed (each once, with a `timeout` event): aborted in flight by
   * the attempt or total deadline, or cut by the total deadline before reaching the network (while
   * queued for a bulkhead permit, or at its start). The call itself counts as any call does: in
   * `rejected` when none of its attempts reached the network.
   */
  timeouts: number
  /**
   * Attempts after the first that reached the transport, as `resilienceInfo(r).attempts` counts
   * them: counted when the retry attempt ends, not when it is scheduled (the `retry` event). A retry
   * the caller aborted during its backoff, or that a gate refused (open breaker, full bulkhead,
   * throttle, total deadline), is no attempt and does not count.
   */
  retries: number
  fallbacks: number
  /** Hedge attempts started (each counts once, whether it won, lost or was refused). */
  hedges: number
  /** Attempts shed locally by adaptive throttling (ThrottledError). */
  throttled: number
  /** Calls that joined an identical call in flight instead of sending their own request. */
  coalesced: number
}

/** A key's recent attempt latency to response headers (ms), whatever options are on. */
export interface LatencySnapshot {
  key: string
  /** Samples the percentiles are computed from: the key's most recent attempts, at most 128. */
  samples: number
  p50: number
  p90: number
  p99: number
  /** Attempts recorded since the key was created (for rates). */
  count: number
  /** Sum of their durations, ms. */
  sum: number
  /** Attempts at or under each bound of `le` (ms), cumulative, as a Prometheus histogram counts them. */
  buckets: number[]
  /** The bucket bounds, ms. */
  le: readonly number[]
}

export interface ResilienceSnapshot {
  at: number
  breakers: BreakerSnapshot[]
  bulkheads: BulkheadSnapshot[]
  totals: ResilienceTotals
  /** One entry per key with at least one attempt recorded. */
  latencies: LatencySnapshot[]
}

export interface ResilienceInfo {
  source: 'network' | 'fallback'
  key: string
  attempts: number
  storedAt?: number
  /** The response came from a hedge, not from the call's first attempt. */
  hedged?: boolean
  /** The caller joined an identical call in flight (true for every caller but the first). */
  coalesced?: boolean
}

export interface ResilienceEventMap {
  statechange: { key: string; from: BreakerState; to: BreakerState }
  success: { key: string; status: number; duration: number }
  failure: { key: string; status?: number; error?: unknown; duration: number }
  reject: { key: string; reason: 'open' | 'bulkhead' | 'throttle' }
  retry: { key: string; attempt: number; delay: number }
  /** A hedge started: `attempt` is its number within the call (the first hedge of a first attempt is 2); `delay` the ms waited. */
  hedge: { key: string; attempt: number; delay: number }
  /** Adaptive throttling shed an attempt with this probability. */
  throttle: { key: string; probability: number }
  timeout: { key: string; timeout: number; scope: 'attempt' | 'total' }
  fallback: { key: string; age: number }
  storeerror: { key: string; error: unknown }
}

export type ResilienceEventType = keyof ResilienceEventMap

export interface ResilientFetch {
  (input: RequestInput, init?: ResilientRequestInit): Promise<Response>
  snapshot(): ResilienceSnapshot
  /**
   * The breaker of a key, or of the key a URL or Request maps to (a full URL finds its origin's breaker).
   * A key only a share knows yet (open in another tab, or across the fleet) is found too. undefined when unknown.
   */
  breaker(target: RequestInput): BreakerControl | undefined
  addEventListener<T extends ResilienceEventType>(type: T, listener: (event: CustomEvent<ResilienceEventMap[T]>) => void, options?: ListenerOptions | boolean): void
  removeEventListener<T extends ResilienceEventType>(type: T, listener: (event: CustomEvent<ResilienceEventMap[T]>) => void, options?: Pick<ListenerOptions, 'capture'> | boolean): void
  /** Empties the fallback store (e.g. on logout). */
  clear(): Promise<void>
}
