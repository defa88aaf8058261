import { BulkheadRejectedError, CircuitOpenError, TimeoutError } from '../errors.js'
import { createFallback, type Fallback, type FallbackRequest } from '../fallback.js'
import { createResilientFetch } from '../index.js'
import { CONTENT_TYPE, toPrometheus } from '../metrics/prometheus.js'
import { normalizeFallback, normalizeHedge, normalizeRetry, type NormalizedFallback, type NormalizedHedge, type NormalizedRetry } from '../options.js'
import { RetryBudget } from '../retry.js'
import { isFailureStatus } from '../stages/types.js'
import { cacheStore } from '../store/cache.js'
import { kvStore } from '../store/kv.js'
import type { BreakerState, FallbackStore, ResilienceSnapshot, ResilientFetch } from '../types.js'
import { resolveConfig, type ProxyConfig, type ResolvedConfig, type Route, type Upstream } from './config.js'
import { Events } from '../events.js'
import { resilienceInfo, tag } from '../info.js'
import { eventStream } from './events.js'
import { matchRoute, requestHeaders, responseHeaders, upstreamUrl } from './route.js'
import { durableObjectShare, type DurableObjectShare } from './share.js'
import { now } from '../clock.js'

/** The part of a Worker's ExecutionContext the proxy uses. */
export interface WorkerContext {
  waitUntil(promise: Promise<unknown>): void
}

/** A Worker `fetch` handler. */
export type ProxyHandler = (request: Request, env?: unknown, ctx?: WorkerContext) => Promise<Response>

type FailureKind = 'circuit_open' | 'bulkhead_full' | 'timeout' | 'upstream_error'

/**
 * Where the last-known-good copies live, as `/health` says it: `kv` (the LAST_KNOWN_GOOD binding),
 * `cache` (the Cache API), `off` (the Cache API on `*.workers.dev`, where it does nothing);
 * `memory` and `custom` only for a `store` given to createProxy.
 */
export type FallbackKind = 'kv' | 'cache' | 'off' | 'memory' | 'custom'

/** `GET /health`: `degraded` while any origin's breaker is not closed. */
export interface Health {
  status: 'ok' | 'degraded'
  breakers: Record<string, BreakerState>
  fallback: FallbackKind
}

/** One attempt's result: an answer to send, or a failure (`reached`: it got to the network). */
type Tried = { response: Response } | { failure: Failure; reached: boolean }

interface Failure {
  error: FailureKind
  key: string
  /** ms until the client may usefully try again. */
  retryAfter: number
}

/** The library's retry defaults: only idempotent methods get the one retry on another origin, within the retry budget. */
const RETRY = normalizeRetry(undefined) as NormalizedRetry
const RETRIED = RETRY.methods
/** The library's hedge budget, for HEDGE_MS. */
const HEDGE_BUDGET = (normalizeHedge({}) as NormalizedHedge).budget
const CACHE_NAME = 'resilient-fetch-proxy'
/** KV keys of the proxy's copies start with this, so the namespace may hold other data. */
const KV_PREFIX = 'resilient-fetch-proxy:'
/** The Cache API does nothing there (Cloudflare's documentation): without KV, no copies are kept. */
const WORKERS_DEV = '.workers.dev'

/**
 * The Cloudflare Worker proxy: routes to configured origins only, one breaker and bulkhead per
 * origin, one retry of idempotent methods on another healthy origin, and the last known good
 * response when the upstream fails. Build it once per isolate; breakers live in its memory.
 */
export function createProxy(config: ProxyConfig): ProxyHandler {
  return buildProxy(resolveConfig(config))
}

/** createProxy for an already validated config (the default Worker builds one from `env`). */
export function buildProxy(config: ResolvedConfig): ProxyHandler {
  const proxy = new WorkerProxy(config)
  return (request, _env, ctx) => proxy.handle(request, ctx)
}

/** The library's resilient fetch per origin, plus what the proxy does across origins: failover, hedging, the copies. */
class WorkerProxy {
  private readonly rf: ResilientFetch
  private readonly share: DurableObjectShare | undefined
  private readonly fallback: Fallback
  private readonly kind: FallbackKind
  /** When an open origin may be probed again; learnt from the open transition and from each refusal. */
  private readonly probeAt = new Map<string, number>()
  private rotation = 0
  private retries = 0
  private fallbacks = 0
  private hedges = 0
  /** Per route (its origins share the retries and hedges): the library's budgets, so an outage is not amplified. */
  private readonly budgets = new Map<string, { retries: RetryBudget | undefined; hedges: RetryBudget | undefined }>()
  /** The copies served, for /events (the library's own fallback, which would emit them, is off here). */
  private readonly served = new Events()
  private announced = false

  constructor(private readonly config: ResolvedConfig) {
    const breaker = { window: { type: 'time', duration: config.window }, failureThreshold: config.failureThreshold, openDuration: config.openDuration } as const
    // The fleet's breaker for each origin, when the BREAKERS binding is there.
    this.share =
      config.coordinator === undefined
        ? undefined
        : durableObjectShare(config.coordinator, {
            breaker: { failureThreshold: config.failureThreshold, window: config.window, openDuration: config.openDuration },
            minReporters: config.minReporters,
          })
    this.rf = createResilientFetch({
      ...(config.fetch === undefined ? {} : { fetch: config.fetch }),
      breaker,
      bulkhead: { maxConcurrent: config.maxConcurrent, maxQueue: 0 },
      // No total deadline: the proxy makes one call per attempt, and a second timer would be wasted.
      timeout: { attempt: config.timeout, total: false },
      retry: false,
      fallback: false,
      ...(this.share === undefined ? {} : { share: this.share }),
    })
    const { store, kind } = fallbackStore(config)
    this.kind = kind
    // The library's fallback defaults (maxAge, maxBodyBytes, private), with the proxy's store.
    this.fallback = createFallback(normalizeFallback({ store }) as NormalizedFallback, (_type, detail) => {
      console.warn(`resilient-fetch proxy: fallback store failed for ${detail.key}:`, detail.error)
    })
    this.rf.addEventListener('statechange', (event) => {
      const { key, to } = event.detail
      // The breaker's own time (jitter, growth, a Retry-After, the fleet's open), read only when it opens.
      if (to === 'open') this.probeAt.set(key, this.rf.snapshot().breakers.find((b) => b.key === key)?.nextProbeAt ?? now() + config.openDuration)
      else this.probeAt.delete(key)
    })
  }

  /** The Worker's fetch handler. */
  async handle(request: Request, ctx: WorkerContext | undefined): Promise<Response> {
    const url = new URL(request.url)
    if (!this.announced) this.announce(url)
    const path = url.pathname
    const method = request.method
    if (path === '/health') return method === 'GET' || method === 'HEAD' ? json(200, this.health(url)) : notAllowed(READ_ONLY)
    if (path === '/metrics' || path === '/metrics.json' || path === '/events') {
      if (method !== 'GET' && method !== 'HEAD') return notAllowed(READ_ONLY)
      if (this.config.metricsToken !== undefined && !authorized(request, url, this.config.metricsToken)) {
        return json(401, { error: 'unauthorized' }, { 'www-authenticate': 'Bearer' })
      }
      if (path === '/metrics') return new Response(toPrometheus(this.snapshot()), { headers: { 'content-type': CONTENT_TYPE, 'cache-control': 'no-store' } })
      if (path === '/metrics.json') return json(200, this.snapshot())
      return eventStream(this.rf, () => this.snapshot(), request.signal, this.served)
    }
    const match = matchRoute(this.config.routes, path)
    if (match === undefined) return json(404, { error: 'not_found' })
    if (!this.config.methods.has(method)) return notAllowed([...this.config.methods])
    try {
      return await this.forward(request, url, match.route, match.rest, ctx)
    } catch (error) {
      // A bug or a broken client body: log it, never show it.
      console.error('resilient-fetch proxy:', error)
      return json(500, { error: 'internal' })
    }
  }

  private budgetsOf(route: Route, t: number) {
    let b = this.budgets.get(route.prefix)
    if (b === undefined) {
      b = { retries: RETRY.budget ? new RetryBudget(RETRY.budget) : undefined, hedges: HEDGE_BUDGET ? new RetryBudget(HEDGE_BUDGET) : undefined }
      this.budgets.set(route.prefix, b)
    }
    b.retries?.recordCall(t)
    b.hedges?.recordCall(t)
    return b
  }
  snapshot(): ResilienceSnapshot {
    const current = this.rf.snapshot()
    // The proxy retries and serves fallbacks itself (the library's own are off), so it adds its counts.
    const totals = current.totals
    return { ...current, totals: { ...totals, retries: totals.retries + this.retries, fallbacks: totals.fallbacks + this.fallbacks, hedges: totals.hedges + this.hedges } }
  }

  private looksOpen(key: string, now: number): boolean {
    const state = this.rf.breaker(key)?.state
    return state === 'forced-open' || (state === 'open' && now < (this.probeAt.get(key) ?? 0))
  }

  /** The route's origins to try, healthy ones first, starting at a rotating position to spread the load. */
  private candidates(route: Route, now: number): readonly Upstream[] {
    const upstreams = route.upstreams
    if (upstreams.length === 1) return upstreams
    const healthy: Upstream[] = []
    const open: Upstream[] = []
    const start = this.rotation++ % upstreams.length
    for (let i = 0; i < upstreams.length; i++) {
      const upstream = upstreams[(start + i) % upstreams.length]
      ;(this.looksOpen(upstream.origin, now) ? open : healthy).push(upstream)
    }
    return healthy.concat(open)
  }

  private respond(request: Request, remembered: FallbackRequest, upstream: Response, ctx: WorkerContext | undefined): Response {
    // What is stored is what the client gets: the hop-by-hop rules apply before the copy is taken.
    const response = forClient(upstream)
    // fallback.remember copies a URL at most once a second, so a hot route does not write the cache on every call.
    if (request.method === 'GET' && response.status === 200) {
      this.fallback.remember(remembered, response, ctx === undefined ? undefined : (promise) => ctx.waitUntil(promise))
    }
    return response
  }

  private health(url: URL): Health {
    const breakers: Record<string, BreakerState> = {}
    for (const route of this.config.routes) for (const { origin } of route.upstreams) breakers[origin] = this.rf.breaker(origin)?.state ?? 'closed'
    const degraded = Object.values(breakers).some((state) => state !== 'closed')
    return { status: degraded ? 'degraded' : 'ok', breakers, fallback: kindFor(this.kind, url) }
  }

  /** One line at startup (the first request: only then is the host known) saying where the copies live. */
  private announce(url: URL): void {
    this.announced = true
    const where = kindFor(this.kind, url)
    if (where === 'off') {
      console.warn(`resilient-fetch proxy: no last-known-good copies: the Cache API does nothing on *${WORKERS_DEV}; bind a KV namespace as LAST_KNOWN_GOOD (see wrangler.toml)`)
    } else {
      console.log(`resilient-fetch proxy: last-known-good copies in ${DESCRIBED[where]}`)
    }
  }

  /** One attempt on one origin: the answer, or why not (`reached`: it reached the network, so it used up an attempt). */
  private async attempt(upstream: Upstream, target: string, out: Outgoing, signal?: AbortSignal): Promise<Tried> {
    const key = upstream.origin
    try {
      // redirect: 'manual', so a redirect from the upstream never makes the proxy fetch another host.
      const pending = this.rf(target, { method: out.method, headers: out.headers, body: out.body, redirect: 'manual', signal, resilience: { key, waitUntil: out.waitUntil } })
      // If the client goes away, workerd cancels the request's work; waitUntil lets the call settle and free its permit.
      out.ctx?.waitUntil(pending.then(ignore, ignore))
      const response = await pending
      if (!isFailureStatus(response.status)) return { response }
      void response.body?.cancel().catch(() => {})
      return { failure: this.realFailure('upstream_error', key), reached: true }
    } catch (error) {
      if (error instanceof CircuitOpenError) {
        const wait = error.retryAfter ?? this.config.openDuration
        this.probeAt.set(key, now() + wait)
        return { failure: { error: 'circuit_open', key, retryAfter: wait }, reached: false }
      }
      if (error instanceof BulkheadRejectedError) return { failure: { error: 'bulkhead_full', key, retryAfter: 1_000 }, reached: false }
      return { failure: this.realFailure(error instanceof TimeoutError ? 'timeout' : 'upstream_error', key), reached: true }
    }
  }

  /**
   * HEDGE_MS: the first origin's attempt, and when it has no answer after `hedge` ms, the same
   * request to the next origin; the first good answer wins and the other attempt is aborted.
   * `hedged`: the second origin was asked (it used up the second attempt).
   */
  private async race(first: [Upstream, string], second: [Upstream, string], out: Outgoing, hedge: number, budget: RetryBudget | undefined): Promise<{ tried: Tried; hedged: boolean }> {
    const controllers = [new AbortController(), new AbortController()]
    const primary = this.attempt(first[0], first[1], out, controllers[0].signal)
    let timer: ReturnType<typeof setTimeout> | undefined
    const late = new Promise<undefined>((resolve) => {
      timer = setTimeout(() => resolve(undefined), hedge)
    })
    const early = await Promise.race([primary, late])
    clearTimeout(timer)
    if (early !== undefined) return { tried: early, hedged: false }
    if (budget !== undefined && !budget.trySpend(now())) return { tried: await primary, hedged: false }
    this.hedges++
    const secondary = this.attempt(second[0], second[1], out, controllers[1].signal)
    const results: (Tried | undefined)[] = [undefined, undefined]
    const winner = await new Promise<number>((resolve) => {
      ;[primary, secondary].forEach((pending, i) =>
        pending.then((tried) => {
          results[i] = tried
          if ('response' in tried || results[1 - i] !== undefined) resolve(i)
        }),
      )
    })
    // The loser is aborted (a caller abort to the library: it counts against no breaker) and its answer dropped.
    controllers[1 - winner].abort(new Error('hedge lost'))
    const lost = results[1 - winner]
    if (lost !== undefined && 'response' in lost) void lost.response.body?.cancel().catch(() => {})
    const tried = results[winner]!
    // Both failed: the failure that reached the network wins, as without hedging.
    if ('failure' in tried && lost !== undefined && 'failure' in lost && !tried.reached && lost.reached) return { tried: lost, hedged: true }
    return { tried, hedged: true }
  }

  private async forward(request: Request, url: URL, route: Route, rest: string, ctx: WorkerContext | undefined): Promise<Response> {
    const method = request.method
    const upstreams = this.candidates(route, now())
    const attempts = RETRIED.has(method) && upstreams.length > 1 ? 2 : 1
    const hedge = method === 'GET' && upstreams.length > 1 ? this.config.hedge : undefined
    let body: BodyInit | null = null
    // A body that may be sent twice is read once; otherwise it streams through.
    if (method !== 'GET' && method !== 'HEAD' && request.body !== null) body = attempts > 1 ? await request.arrayBuffer() : request.body
    // Reports to the coordinator outlive the response.
    const waitUntil = this.share === undefined || ctx === undefined ? undefined : (promise: Promise<unknown>) => ctx.waitUntil(promise)
    const out: Outgoing = { method, headers: requestHeaders(request.headers), body, rest, search: url.search, waitUntil, ctx }
    const remembered: FallbackRequest = { method, url: url.href, headers: request.headers }
    const budget = this.budgetsOf(route, now())

    let failure: Failure | undefined
    let tried = 0
    for (let i = 0; i < upstreams.length && tried < attempts; i++) {
      // The retry is spent from the route's budget: past it, the failure stands.
      if (tried === 1 && budget.retries !== undefined && !budget.retries.trySpend(now())) break
      const target = upstreamUrl(upstreams[i], rest, url.search)
      if (target === undefined) return json(400, { error: 'bad_path' })
      const next = hedge !== undefined && tried === 0 && i + 1 < upstreams.length ? upstreams[i + 1] : undefined
      const nextTarget = next === undefined ? undefined : upstreamUrl(next, rest, url.search)
      let result: Tried
      if (next !== undefined && nextTarget !== undefined && !this.looksOpen(next.origin, now())) {
        const raced = await this.race([upstreams[i], target], [next, nextTarget], out, hedge!, budget.hedges)
        result = raced.tried
        if (raced.hedged) {
          if ('response' in result) return this.respond(request, remembered, result.response, ctx)
          // Both origins were asked: no attempt is left.
          failure = result.reached ? result.failure : pick(failure, result.failure)
          break
        }
      } else {
        result = await this.attempt(upstreams[i], target, out)
      }
      if ('response' in result) {
        if (tried++ === 1) this.retries++
        return this.respond(request, remembered, result.response, ctx)
      }
      if (result.reached && tried++ === 1) this.retries++
      failure = result.reached ? result.failure : pick(failure, result.failure)
    }

    if (method === 'GET') {
      const copy = await this.fallback.recall(remembered).catch(() => undefined)
      if (copy !== undefined) {
        this.fallbacks++
        const key = failure?.key ?? upstreams[0].origin
        this.served.emit('fallback', { key, age: Math.max(0, Math.floor((now() - copy.storedAt) / 1_000)) })
        // A stored copy obeys the same header rules as a live answer (copies stored before them included).
        const response = forClient(copy.response)
        tag(response, { source: 'fallback', key, attempts: tried, storedAt: copy.storedAt })
        return response
      }
    }
    const { error, key, retryAfter } = failure ?? this.realFailure('upstream_error', upstreams[0].origin)
    return json(503, { error, key }, { 'retry-after': String(Math.max(1, Math.ceil(retryAfter / 1_000))) })
  }

  /** A failure that reached the network; wait until the probe if it opened the breaker. */
  private realFailure(error: FailureKind, key: string): Failure {
    const t = now()
    return { error, key, retryAfter: this.looksOpen(key, t) ? (this.probeAt.get(key) ?? t) - t : 1_000 }
  }
}

/** What the proxy sends each origin for one client request. */
interface Outgoing {
  method: string
  headers: Headers
  body: BodyInit | null
  rest: string
  search: string
  waitUntil: ((promise: Promise<unknown>) => void) | undefined
  ctx: WorkerContext | undefined
}

const READ_ONLY = ['GET', 'HEAD']

function ignore(): void {}

/** Of two refusals, the one that clears sooner; a failure that reached the network always wins. */
function pick(current: Failure | undefined, next: Failure): Failure {
  if (current === undefined) return next
  if (current.error === 'timeout' || current.error === 'upstream_error') return current
  return next.retryAfter < current.retryAfter ? next : current
}

/**
 * The Bearer token, or for `/events` only, the `token` query parameter: EventSource cannot send
 * headers, so the dashboard passes it in the URL (which logs may keep: use a token for metrics only).
 */
export const EVENTS_TOKEN_PARAM = 'token'

function authorized(request: Request, url: URL, token: string): boolean {
  const header = request.headers.get('authorization')
  const match = header === null ? null : /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header)
  if (match !== null) return sameToken(match[1], token)
  const given = url.pathname === '/events' ? url.searchParams.get(EVENTS_TOKEN_PARAM) : null
  return given !== null && sameToken(given, token)
}

/** Compares in time that depends on the token's length only, not on where the first difference is. */
function sameToken(given: string, token: string): boolean {
  let diff = given.length ^ token.length
  for (let i = 0; i < token.length; i++) diff |= token.charCodeAt(i) ^ (given.charCodeAt(i) | 0)
  return diff === 0
}

/** The response with the hop-by-hop headers dropped, as the client gets it. */
function forClient(response: Response): Response {
  const headers = responseHeaders(response.headers)
  if (headers === undefined) return response
  const copy = new Response(response.body, { status: response.status, statusText: response.statusText, headers })
  // Still the answer resilienceInfo describes.
  const info = resilienceInfo(response)
  if (info !== undefined) tag(copy, info)
  return copy
}

const DESCRIBED: Record<Exclude<FallbackKind, 'off'>, string> = {
  kv: 'Workers KV (LAST_KNOWN_GOOD)',
  cache: 'the Cache API (this data centre only; bind a KV namespace as LAST_KNOWN_GOOD to share them)',
  memory: "this isolate's memory",
  custom: 'the store given to createProxy',
}

function fallbackStore(config: ResolvedConfig): { store: FallbackStore | 'memory'; kind: FallbackKind } {
  if (config.lastKnownGood !== undefined) return { store: kvStore(config.lastKnownGood, { prefix: KV_PREFIX }), kind: 'kv' }
  if (config.store === 'memory') return { store: 'memory', kind: 'memory' }
  if (config.store !== undefined) return { store: config.store, kind: 'custom' }
  return { store: cacheStore({ cacheName: CACHE_NAME }), kind: 'cache' }
}

function kindFor(kind: FallbackKind, url: URL): FallbackKind {
  return kind === 'cache' && url.hostname.endsWith(WORKERS_DEV) ? 'off' : kind
}

function notAllowed(methods: readonly string[]): Response {
  return json(405, { error: 'method_not_allowed' }, { allow: methods.join(', ') })
}

/** A JSON response; errors never carry more than their name and key. */
export function json(status: number, body: unknown, headers?: Record<string, string>): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', ...headers },
  })
}
