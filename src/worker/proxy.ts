import type { Breaker } from '../breaker/breaker.js'
import { BulkheadRejectedError, CircuitOpenError, TimeoutError } from '../errors.js'
import { createResilientFetch } from '../index.js'
import { CONTENT_TYPE, toPrometheus } from '../metrics/prometheus.js'
import { normalizeFallback, normalizeHedge, normalizeRetry, normalizeTimeout, type NormalizedHedge, type NormalizedRetry } from '../options.js'
import { now } from '../clock.js'
import { fallbackStage } from '../stages/fallback.js'
import { failoverStage, retries } from '../stages/failover.js'
import { Keys } from '../stages/keys.js'
import { compose, type Chain } from '../stages/pipeline.js'
import { aborted, refusal, type Attempt, type Call, type Outcome, type Runtime } from '../stages/types.js'
import { isFailureStatus } from '../classify.js'
import { cacheStore } from '../store/cache.js'
import { kvStore } from '../store/kv.js'
import type { BreakerState, FallbackStore, Outcome as ResilienceOutcome, ResilienceSnapshot, ResilienceTotals, ResilientFetch } from '../types.js'
import { resolveConfig, type ProxyConfig, type ResolvedConfig, type Route, type Upstream } from './config.js'
import { Events } from '../events.js'
import { resilienceInfo, tag } from '../info.js'
import { CorsGrants, preflightAsks } from './cors.js'
import { EVENT_STREAM_HEADERS, eventStream } from './events.js'
import { matchRoute, requestHeaders, responseHeaders, upstreamUrl } from './route.js'
import { durableObjectShare, type DurableObjectShare } from './share.js'

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

/** The client's request as the chain carries it: what each origin is sent, and where. */
interface ProxyCall extends Call {
  readonly out: Outgoing
}

/** An origin's outcome, with the origin it came from (for the 503's `key`). */
type FromOrigin = Outcome & { origin?: string }

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

/**
 * The proxy's chain, from the library's own stages: fallback ⊃ failover across origins ⊃ each
 * origin's gates (breaker, bulkhead that rejects at once, attempt deadline, transport: a resilient
 * fetch keyed by origin, with its own retry, fallback and total deadline off).
 */
class WorkerProxy {
  private readonly rf: ResilientFetch
  private readonly share: DurableObjectShare | undefined
  private readonly chain: Chain
  /** The chain's per-route state (the failover's budgets), by route prefix: so an outage is not amplified. */
  private readonly routes: Keys
  private readonly kind: FallbackKind
  /** When an open origin may be probed again; learnt from the open transition and from each refusal. */
  private readonly probeAt = new Map<string, number>()
  /** Where each pool's next request starts; per route, so that routes asked in turn do not each stay on one origin. */
  private readonly rotations = new Map<Route, number>()
  /** The chain's counts (retries on another origin, hedges, copies served), added to the origins' snapshot. */
  private readonly totals: ResilienceTotals = { requests: 0, successes: 0, failures: 0, rejected: 0, timeouts: 0, retries: 0, fallbacks: 0, hedges: 0, throttled: 0, coalesced: 0 }
  /** The copies served, for /events. */
  private readonly served = new Events()
  /** What each route's origins granted each page origin, for the proxy's own answers there. */
  private readonly cors = new CorsGrants()
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
    // Each origin's gates: the library's breaker, bulkhead, attempt deadline and transport.
    this.rf = createResilientFetch({
      ...(config.fetch === undefined ? {} : { fetch: config.fetch }),
      breaker,
      bulkhead: { maxConcurrent: config.maxConcurrent, maxQueue: 0 },
      // No total deadline: the proxy makes one call per attempt, and a second timer would be wasted.
      timeout: { attempt: config.timeout, total: false },
      retry: false,
      fallback: false,
      isFailure,
      ...(this.share === undefined ? {} : { share: this.share }),
    })
    const { store, kind } = fallbackStore(config)
    this.kind = kind
    const runtime: Runtime = { now, totals: this.totals, events: this.chainEvents() }
    const stages = [
      // The library's fallback (its maxAge, maxBodyBytes, private rules), with the proxy's store.
      fallbackStage(normalizeFallback({ store }), runtime),
      failoverStage(
        {
          targets: (call) => (call as ProxyCall).out.targets,
          healthy: (target, t) => !this.looksOpen(target.key, t),
          retry: RETRY,
          hedge: config.hedge === undefined ? undefined : { delay: config.hedge, budget: (normalizeHedge({}) as NormalizedHedge).budget },
        },
        runtime,
      ),
    ].filter((stage) => stage !== undefined)
    this.chain = compose(stages, { names: ['origin'], run: (attempt) => this.send(attempt) }, now)
    this.routes = new Keys(this.chain.stages, Infinity)
    this.rf.addEventListener('statechange', (event) => {
      const { key, to } = event.detail
      // The breaker's own time (jitter, growth, a Retry-After, the fleet's open), read only when it opens.
      if (to === 'open') this.probeAt.set(key, this.rf.snapshot().breakers.find((b) => b.key === key)?.nextProbeAt ?? now() + config.openDuration)
      else this.probeAt.delete(key)
    })
  }

  /** The chain's events: a copy served goes to /events; a failing store is logged. */
  private chainEvents(): Runtime['events'] {
    return {
      emit: (type, detail) => {
        if (type === 'storeerror') {
          const { key, error } = detail as { key: string; error: unknown }
          console.warn(`resilient-fetch proxy: fallback store failed for ${key}:`, error)
        } else this.served.emit(type, detail)
      },
      wants: (type) => type === 'storeerror' || this.served.wants(type),
    }
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
      // workerd never answers a HEAD whose body is a stream that does not end: the headers alone, no stream or timer.
      if (method === 'HEAD') return new Response(null, { headers: EVENT_STREAM_HEADERS })
      return eventStream(this.rf, () => this.snapshot(), request.signal, this.served)
    }
    const match = matchRoute(this.config.routes, path)
    if (match === undefined) return json(404, { error: 'not_found' })
    const prefix = match.route.prefix
    const pageOrigin = request.headers.get('origin')
    if (!proxied(this.config.methods, request)) return this.cors.grant(prefix, pageOrigin, notAllowed([...this.config.methods]), ['Allow'])
    try {
      return await this.forward(request, url, match.route, match.rest, ctx)
    } catch (error) {
      // A bug or a broken client body: log it, never show it.
      console.error('resilient-fetch proxy:', error)
      return this.cors.grant(prefix, pageOrigin, json(500, { error: 'internal' }))
    }
  }

  snapshot(): ResilienceSnapshot {
    const current = this.rf.snapshot()
    // The origins' own counts, plus what the chain above them did: retries on another origin, hedges, copies served.
    const totals = current.totals
    return { ...current, totals: { ...totals, retries: totals.retries + this.totals.retries, fallbacks: totals.fallbacks + this.totals.fallbacks, hedges: totals.hedges + this.totals.hedges } }
  }

  /** Whether the origin's breaker would refuse a call now: open, or half-open with its one probe (the default) out. */
  private looksOpen(key: string, t: number): boolean {
    const breaker = this.rf.breaker(key) as Breaker | undefined
    // state first: reading it ends a lost probe (its breaker re-opens), so `busy` is about a probe still out.
    const state = breaker?.state
    return state === 'forced-open' || (state === 'open' && t < (this.probeAt.get(key) ?? 0)) || (state === 'half-open' && breaker!.busy)
  }

  /** The route's origins to try, healthy ones first, starting at a rotating position to spread the load. */
  private candidates(route: Route, t: number): readonly Upstream[] {
    const upstreams = route.upstreams
    if (upstreams.length === 1) return upstreams
    const healthy: Upstream[] = []
    const open: Upstream[] = []
    const start = this.rotations.get(route) ?? 0
    this.rotations.set(route, (start + 1) % upstreams.length)
    for (let i = 0; i < upstreams.length; i++) {
      const upstream = upstreams[(start + i) % upstreams.length]
      ;(this.looksOpen(upstream.origin, t) ? open : healthy).push(upstream)
    }
    return healthy.concat(open)
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

  /** The chain's innermost step: one attempt on one origin through its gates, as an outcome. */
  private async send(attempt: Attempt): Promise<Outcome> {
    const call = attempt.call as ProxyCall
    const { out } = call
    const key = call.key
    try {
      // redirect: 'manual', so a redirect from the upstream never makes the proxy fetch another host.
      const pending = this.rf(call.url, { method: out.method, headers: out.headers, body: out.body, ...HALF_DUPLEX, redirect: 'manual', signal: attempt.signal, resilience: { key, waitUntil: out.waitUntil } })
      // If the client goes away, workerd cancels the request's work; waitUntil lets the call settle and free its permit.
      out.ctx?.waitUntil(pending.then(ignore, ignore))
      // What is stored is what the client gets (the store drops Connection itself, so a raw copy would keep the
      // fields it named); the headers the store decides by are never Connection's to drop (route.ts), so the
      // fallback judges them as the upstream sent them.
      const answer = await pending
      out.attempts++
      if (answer.status < 200) return fromOrigin(key, interimAnswer(answer))
      const response = forClient(answer)
      this.cors.learn(out.route, out.pageOrigin, response, out.preflight)
      // Judged by the proxy's failure rule, as the origin's breaker judged it.
      return fromOrigin(key, { kind: 'response', response, failure: isFailure({ response, duration: 0 }), duration: 0 })
    } catch (error) {
      if (attempt.signal?.aborted) return aborted(attempt.signal.reason)
      if (error instanceof CircuitOpenError) {
        this.probeAt.set(key, now() + (error.retryAfter ?? this.config.openDuration))
        return fromOrigin(key, refusal('open', error))
      }
      if (error instanceof BulkheadRejectedError) return fromOrigin(key, refusal('bulkhead', error))
      out.attempts++
      return fromOrigin(key, error instanceof TimeoutError ? { kind: 'timeout', error, failure: true, duration: 0 } : { kind: 'error', error, failure: true, duration: 0 })
    }
  }

  private async forward(request: Request, url: URL, route: Route, rest: string, ctx: WorkerContext | undefined): Promise<Response> {
    const method = request.method
    const asked = preflightFor(request)
    const targets: string[] = []
    const upstreams = this.candidates(route, now())
    for (const upstream of upstreams) {
      const target = upstreamUrl(upstream, rest, url.search)
      if (target === undefined) return this.cors.grant(route.prefix, request.headers.get('origin'), json(400, { error: 'bad_path' }))
      targets.push(target)
    }
    let body: BodyInit | null = null
    // A body that may go to a second origin is read once; otherwise it streams through.
    if (method !== 'GET' && method !== 'HEAD' && request.body !== null) body = targets.length > 1 && retries(RETRY, method) ? await request.arrayBuffer() : request.body
    const out: Outgoing = {
      route: route.prefix,
      pageOrigin: request.headers.get('origin'),
      preflight: asked === null ? undefined : preflightAsks(asked, request.headers.get('access-control-request-headers')),
      method,
      headers: requestHeaders(request.headers),
      body,
      // Reports to the coordinator outlive the response.
      waitUntil: this.share === undefined || ctx === undefined ? undefined : (promise: Promise<unknown>) => ctx.waitUntil(promise),
      ctx,
      targets: [],
      attempts: 0,
    }
    const call: ProxyCall = {
      key: upstreams[0].origin,
      input: url.href,
      init: { method, headers: request.headers },
      method,
      url: url.href,
      signal: undefined,
      timeout: NO_TOTAL,
      retry: false,
      priority: 1,
      options: undefined,
      // The copy is stored after the response is sent.
      waitUntil: ctx === undefined ? undefined : (promise) => ctx.waitUntil(promise),
      at: now(),
      deadline: undefined,
      attempts: 0,
      states: this.routes.get(route.prefix).states,
      out,
    }
    out.targets = upstreams.map((upstream, i) => ({ ...call, key: upstream.origin, input: targets[i], url: targets[i] }))
    return this.respond(call, (await this.chain.run(call)) as FromOrigin)
  }

  /** The client's answer: the origin's, the last known good copy, or a 503 saying why not. */
  private respond(call: ProxyCall, outcome: FromOrigin): Response {
    if (outcome.kind === 'response') {
      const { response, storedAt } = outcome
      if (storedAt !== undefined) {
        // Counted here, where the request ends (the fallback stage does not count): once per request.
        this.totals.fallbacks++
        // A stored copy obeys the same header rules as a live answer (copies stored before them included).
        const copy = forClient(response)
        tag(copy, { source: 'fallback', key: call.key, attempts: call.out.attempts, storedAt })
        return exposeFallback(copy)
      }
      if (!outcome.failure) return response
      void response.body?.cancel().catch(() => {})
    }
    // A preflight the origins cannot answer now: their last good answer to it, so the request it clears comes and reads the 503.
    const preflight = call.out.preflight === undefined ? undefined : this.cors.preflight(call.out.route, call.out.pageOrigin, call.out.preflight)
    if (preflight !== undefined) return preflight
    const key = outcome.origin ?? call.key
    const t = now()
    // A failure that reached the network: wait until the probe if it opened the breaker.
    const retryAfter = this.looksOpen(key, t) ? (this.probeAt.get(key) ?? t) - t : 1_000
    const failure: { error: FailureKind; retryAfter: number } =
      outcome.kind === 'refused'
        ? outcome.reason === 'open'
          ? { error: 'circuit_open', retryAfter: (outcome.error as CircuitOpenError).retryAfter ?? this.config.openDuration }
          : { error: 'bulkhead_full', retryAfter: 1_000 }
        : { error: outcome.kind === 'timeout' ? 'timeout' : 'upstream_error', retryAfter }
    const answer = json(503, { error: failure.error, key }, { 'retry-after': String(Math.max(1, Math.ceil(failure.retryAfter / 1_000))) })
    return this.cors.grant(call.out.route, call.out.pageOrigin, answer, ['Retry-After'])
  }
}

/**
 * Through a shared proxy a 429 says "this caller is over its quota" (an API key's, an account's), not
 * "the upstream is in trouble": judged a failure, one client's 429 + Retry-After would open the origin's
 * breaker for everyone (up to an hour). So the proxy forgives it: the 429 and its Retry-After go back to
 * the client that got it, count against no breaker, open none, are not retried and are never answered
 * by a copy. So is a 501: the origin does not do what this client asked (a method, a page's CORS preflight), and any
 * client could otherwise open the breaker with requests it chose. A 101 is a failure, where the library's rule takes it for a WebSocket upgrade: the proxy forwards no
 * Upgrade, so it is a switch nobody asked for, whose answer is lost (interimAnswer). Everything else is the library's
 * own rule (a 503 + Retry-After still opens the breaker; an interim status is a failure, which interimAnswer makes a
 * network error of).
 */
function isFailure(outcome: ResilienceOutcome): boolean {
  const status = outcome.response?.status
  return status === undefined || status === 101 || (status !== 429 && status !== 501 && isFailureStatus(status))
}

/**
 * workerd's fetch takes an interim answer (103 Early Hints) for the final one, the rest of the stream (the real
 * status line too) for its body: the attempt failed as a network error does (the library's rule told the breaker
 * so), so it is never served nor stored (nor rebuilt: Response refuses a status below 200), and the next origin or
 * the last good copy may answer. So does a 101 (workerd's fetch resolves with it, without a webSocket or a body): the
 * proxy forwards no Upgrade, so no upgrade was asked for.
 */
function interimAnswer(response: Response): Outcome {
  void response.body?.cancel().catch(ignore)
  return { kind: 'error', error: new TypeError(`the upstream's answer stopped at its interim ${response.status}`), failure: true, duration: 0 }
}

/** The library's retry defaults, without 429 (see isFailure): its methods get the one retry on another origin, within its budget. */
const RETRY = normalizeRetry({ statusCodes: [...(normalizeRetry(undefined) as NormalizedRetry).statusCodes].filter((status) => status !== 429) })

/** The Fetch standard sends a streamed body only half duplex: Node's fetch (and a browser's) refuses one without it; workerd's needs none. */
const HALF_DUPLEX = { duplex: 'half' } as RequestInit

/** The proxy makes one call per attempt: no total deadline. */
const NO_TOTAL = normalizeTimeout({ total: false })

function fromOrigin(origin: string, outcome: Outcome): FromOrigin {
  return Object.assign(outcome, { origin })
}

/** What the proxy sends each origin for one client request. */
interface Outgoing {
  /** The route's prefix and the page's origin (its Origin header): what the proxy's own answer may grant it (cors.ts). */
  route: string
  pageOrigin: string | null
  /** For a CORS preflight (OPTIONS with Access-Control-Request-Method), what it asks for (cors.ts); undefined for any other request. */
  preflight: string | undefined
  method: string
  headers: Headers
  body: BodyInit | null
  waitUntil: ((promise: Promise<unknown>) => void) | undefined
  ctx: WorkerContext | undefined
  /** The request as sent to each origin, in the order to try them. */
  targets: readonly ProxyCall[]
  /** Attempts that reached an origin (resilienceInfo's `attempts` for a copy served). */
  attempts: number
}

const READ_ONLY = ['GET', 'HEAD']

/** The method a CORS preflight asks for (OPTIONS with Access-Control-Request-Method), or null for any other request. */
const preflightFor = (request: Request) => (request.method === 'OPTIONS' ? request.headers.get('access-control-request-method') : null)

/** A method in METHODS, or a preflight for one: without the origins' answer to it, the browser never sends the request. */
function proxied(methods: ReadonlySet<string>, request: Request): boolean {
  const asked = preflightFor(request)
  return methods.has(request.method) || (asked !== null && methods.has(asked))
}

function ignore(): void {}

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

/** A copy an origin let a page read: the page may read that it is one, and how old (X-Resilient-Source, Age). */
function exposeFallback(copy: Response): Response {
  const headers = copy.headers
  if (headers.has('access-control-allow-origin')) headers.set('access-control-expose-headers', [headers.get('access-control-expose-headers'), 'X-Resilient-Source, Age'].filter(Boolean).join(', '))
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
