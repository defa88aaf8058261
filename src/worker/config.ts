import type { KvNamespaceLike } from '../store/kv.js'
import type { FallbackStore } from '../types.js'
import type { CoordinatorNamespace } from './share.js'
import { show } from '../validate.js'

/** How the proxy is configured in code; `configFromEnv` builds one from a Worker's `[vars]`. */
export interface ProxyConfig {
  /** The single upstream that `/api/*` goes to when `routes` is not set, e.g. `https://api.example.com/v1`. */
  upstream?: string
  /** Path prefix → one origin or several (a pool); wins over `upstream` when set and non-empty. */
  routes?: Record<string, string | string[]>
  /** Per attempt, to response headers, ms. @default 2_000 */
  timeout?: number | string
  /** Attempts in flight per upstream origin; more are rejected at once (no queue). @default 50 */
  maxConcurrent?: number | string
  /** Failures within `window` that open an origin's breaker. @default 5 */
  failureThreshold?: number | string
  /** The breaker's time window, ms. @default 30_000 */
  window?: number | string
  /** How long an open breaker refuses calls before it lets a probe through, ms. @default 30_000 */
  openDuration?: number | string
  /** Methods that are proxied; others get 405. @default ['GET', 'HEAD'] */
  methods?: string[] | string
  /** When set and non-empty, `/metrics`, `/metrics.json` and `/events` need `Authorization: Bearer <token>`. */
  metricsToken?: string
  /** The transport. @default globalThis.fetch, looked up at call time */
  fetch?: typeof globalThis.fetch
  /**
   * A Workers KV namespace (the `LAST_KNOWN_GOOD` binding) for the last-known-good copies: unlike
   * the Cache API, KV works on `*.workers.dev` and is shared by every data centre.
   * @default none: the copies live in the Cache API
   */
  lastKnownGood?: KvNamespaceLike
  /** Where last-known-good copies live, instead of `lastKnownGood` or the Cache API. @default the Cache API */
  store?: FallbackStore | 'memory'
  /**
   * The `BreakerCoordinator` Durable Object namespace (the `BREAKERS` binding): one breaker per
   * origin for the whole fleet of isolates (see durableObjectShare). @default none: each isolate on its own
   */
  coordinator?: CoordinatorNamespace
  /**
   * With `coordinator`: distinct isolates whose failures open the fleet's breaker (each isolate's own
   * breaker still opens on its own failures). @default 2
   */
  minReporters?: number | string
  /**
   * With several origins for a route: a GET that has no response headers after this many ms is also
   * sent to the next healthy origin; the first good answer wins and the other is aborted.
   * @default none: no hedging
   */
  hedge?: number | string
}

export interface Upstream {
  /** `scheme://host[:port]`: the breaker and bulkhead key. */
  origin: string
  /** The configured path without a trailing slash, '' for none. */
  basePath: string
}

export interface Route {
  /** Starts and ends with '/'. */
  prefix: string
  upstreams: Upstream[]
}

export interface ResolvedConfig {
  /** Longest prefix first, so the most specific route wins. */
  routes: Route[]
  timeout: number
  maxConcurrent: number
  failureThreshold: number
  window: number
  openDuration: number
  methods: ReadonlySet<string>
  metricsToken: string | undefined
  fetch: typeof globalThis.fetch | undefined
  store: FallbackStore | 'memory' | undefined
  lastKnownGood: KvNamespaceLike | undefined
  coordinator: CoordinatorNamespace | undefined
  minReporters: number
  hedge: number | undefined
}

type Names = Record<Exclude<keyof ProxyConfig, 'fetch' | 'store'>, string>

const OPTION_NAMES: Names = {
  upstream: 'upstream',
  routes: 'routes',
  timeout: 'timeout',
  maxConcurrent: 'maxConcurrent',
  failureThreshold: 'failureThreshold',
  window: 'window',
  openDuration: 'openDuration',
  methods: 'methods',
  metricsToken: 'metricsToken',
  coordinator: 'coordinator',
  lastKnownGood: 'lastKnownGood',
  minReporters: 'minReporters',
  hedge: 'hedge',
}

/** The `[vars]` (and the binding) each option is read from. */
export const ENV_NAMES: Names = {
  upstream: 'UPSTREAM_URL',
  routes: 'ROUTES',
  timeout: 'TIMEOUT_MS',
  maxConcurrent: 'MAX_CONCURRENT',
  failureThreshold: 'FAILURE_THRESHOLD',
  window: 'WINDOW_MS',
  openDuration: 'OPEN_DURATION_MS',
  methods: 'METHODS',
  metricsToken: 'METRICS_TOKEN',
  coordinator: 'BREAKERS',
  lastKnownGood: 'LAST_KNOWN_GOOD',
  minReporters: 'MIN_REPORTERS',
  hedge: 'HEDGE_MS',
}

/** Every option createProxy knows; anything else is a typo, named in the error. */
const KNOWN_OPTIONS: readonly string[] = [...Object.keys(OPTION_NAMES), 'fetch', 'store']

/** How errors name things: the option or the var, and how a value is shown (vars: redacted, as they may hold secrets). */
interface Naming {
  names: Names
  display: (value: unknown) => string
}

/** A configuration error; `option` is the option or var at fault, which is all a client may be told. */
export type ConfigError = (TypeError | RangeError) & { option: string }

function invalid(type: typeof TypeError | typeof RangeError, option: string, message: string): ConfigError {
  return Object.assign(new type(message), { option })
}

const API_PREFIX = '/api/'
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Z-]+$/

/** Reads the proxy's configuration from a Worker's `env`; throws a TypeError/RangeError naming the var. */
export function configFromEnv(env: Record<string, unknown>): ResolvedConfig {
  const config: ProxyConfig = {}
  for (const option of Object.keys(ENV_NAMES) as (keyof Names)[]) {
    const value = env[ENV_NAMES[option]]
    // An empty var means "use the default", as wrangler cannot unset an inherited var.
    if (value !== undefined && value !== '') (config as Record<string, unknown>)[option] = value
  }
  if (typeof config.routes === 'string') {
    try {
      config.routes = JSON.parse(config.routes) as Record<string, string[]>
    } catch (error) {
      throw invalid(TypeError, ENV_NAMES.routes, `ROUTES must be JSON like {"/api/": ["https://a.example"]}, got ${redact(env.ROUTES)} (${(error as Error).name})`)
    }
  }
  return resolve(config, { names: ENV_NAMES, display: redact })
}

/** Validates a ProxyConfig and fills in the defaults; errors name the option and the value. */
export function resolveConfig(config: ProxyConfig): ResolvedConfig {
  if (config === null || typeof config !== 'object') throw new TypeError(`config must be an object, got ${show(config)}`)
  for (const key of Object.keys(config)) {
    if (!KNOWN_OPTIONS.includes(key)) {
      const near = KNOWN_OPTIONS.find((known) => editDistance(known.toLowerCase(), key.toLowerCase()) <= 2)
      throw invalid(TypeError, key, `createProxy: ${key} is not an option${near === undefined ? '' : ` (did you mean ${near}?)`}; known: ${KNOWN_OPTIONS.join(', ')}`)
    }
  }
  return resolve(config, { names: OPTION_NAMES, display: show })
}

function resolve(config: ProxyConfig, naming: Naming): ResolvedConfig {
  const { names, display } = naming
  if (config.fetch !== undefined && typeof config.fetch !== 'function') throw invalid(TypeError, 'fetch', `fetch must be a function, got ${show(config.fetch)}`)
  const store = config.store
  if (store !== undefined && store !== 'memory' && (typeof store !== 'object' || store === null || typeof store.get !== 'function' || typeof store.put !== 'function')) {
    throw invalid(TypeError, 'store', `store must be 'memory' or a FallbackStore, got ${show(store)}`)
  }
  const token = config.metricsToken
  if (token !== undefined && typeof token !== 'string') throw invalid(TypeError, names.metricsToken, `${names.metricsToken} must be a string, got ${display(token)}`)
  const coordinator = config.coordinator
  if (coordinator !== undefined && (typeof coordinator !== 'object' || coordinator === null || typeof coordinator.idFromName !== 'function' || typeof coordinator.get !== 'function')) {
    throw invalid(TypeError, names.coordinator, `${names.coordinator} must be a Durable Object namespace binding (class_name = "BreakerCoordinator"), got ${display(coordinator)}`)
  }
  const kv = config.lastKnownGood as Partial<KvNamespaceLike> | undefined
  if (kv !== undefined && (typeof kv !== 'object' || kv === null || typeof kv.getWithMetadata !== 'function' || typeof kv.put !== 'function')) {
    throw invalid(TypeError, names.lastKnownGood, `${names.lastKnownGood} must be a Workers KV namespace binding, got ${display(kv)}`)
  }
  if (kv !== undefined && store !== undefined) throw invalid(TypeError, 'store', `store and ${names.lastKnownGood} cannot both be set: both say where the copies live`)
  return {
    routes: resolveRoutes(config, naming),
    timeout: positiveInteger(config.timeout, 2_000, names.timeout, display),
    maxConcurrent: positiveInteger(config.maxConcurrent, 50, names.maxConcurrent, display),
    failureThreshold: positiveInteger(config.failureThreshold, 5, names.failureThreshold, display),
    window: positiveInteger(config.window, 30_000, names.window, display),
    openDuration: positiveInteger(config.openDuration, 30_000, names.openDuration, display),
    methods: resolveMethods(config.methods, names.methods, display),
    metricsToken: token === '' ? undefined : token,
    fetch: config.fetch,
    store,
    lastKnownGood: kv as KvNamespaceLike | undefined,
    coordinator,
    minReporters: positiveInteger(config.minReporters, 2, names.minReporters, display),
    hedge: config.hedge === undefined ? undefined : timerMs(positiveInteger(config.hedge, 0, names.hedge, display), names.hedge),
  }
}

function resolveRoutes(config: ProxyConfig, naming: Naming): Route[] {
  const { names, display } = naming
  const routes = config.routes
  if (routes !== undefined && (routes === null || typeof routes !== 'object' || Array.isArray(routes))) {
    throw invalid(TypeError, names.routes, `${names.routes} must be an object of path prefix to origins, got ${display(routes)}`)
  }
  if (routes !== undefined && Object.keys(routes).length > 0) {
    const resolved: Route[] = []
    for (const [prefix, origins] of Object.entries(routes)) {
      const where = `${names.routes}[${JSON.stringify(prefix)}]`
      if (!prefix.startsWith('/') || prefix.startsWith('//') || /[?#\\]|%2e|(^|\/)\.\.?(\/|$)/i.test(prefix)) {
        throw invalid(TypeError, names.routes, `${names.routes} keys must be path prefixes like "/api/", got ${display(prefix)}`)
      }
      const list = typeof origins === 'string' ? [origins] : origins
      if (!Array.isArray(list) || list.length === 0) throw invalid(TypeError, names.routes, `${where} must be a non-empty array of http(s) URLs, got ${display(origins)}`)
      const upstreams = list.map((url) => resolveUpstream(url, where, names.routes, display))
      resolved.push({ prefix: prefix.endsWith('/') ? prefix : `${prefix}/`, upstreams })
    }
    return resolved.sort((a, b) => b.prefix.length - a.prefix.length)
  }
  if (config.upstream === undefined) throw invalid(TypeError, names.upstream, `${names.upstream} (or ${names.routes}) must be set to the upstream's http(s) URL`)
  return [{ prefix: API_PREFIX, upstreams: [resolveUpstream(config.upstream, names.upstream, names.upstream, display)] }]
}

/** `name` is where the value sits (ROUTES["/api/"]), `option` the option or var it belongs to. */
function resolveUpstream(value: unknown, name: string, option: string, display: (value: unknown) => string): Upstream {
  let url: URL | undefined
  try {
    url = typeof value === 'string' ? new URL(value) : undefined
  } catch {
    url = undefined
  }
  if (url === undefined || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
    throw invalid(TypeError, option, `${name} must be an absolute http(s) URL, got ${display(value)}`)
  }
  if (url.username !== '' || url.password !== '' || url.search !== '' || url.hash !== '') {
    throw invalid(TypeError, option, `${name} must be an http(s) URL without credentials, query or fragment, got ${display(value)}`)
  }
  return { origin: url.origin, basePath: url.pathname.replace(/\/+$/, '') }
}

function resolveMethods(value: unknown, name: string, display: (value: unknown) => string): ReadonlySet<string> {
  if (value === undefined) return new Set(['GET', 'HEAD'])
  const list = typeof value === 'string' ? value.split(',') : value
  if (!Array.isArray(list)) throw invalid(TypeError, name, `${name} must be a comma-separated list of methods like "GET,HEAD", got ${display(value)}`)
  const methods = new Set<string>()
  for (const item of list) {
    const method = typeof item === 'string' ? item.trim().toUpperCase() : ''
    if (!TOKEN.test(method)) throw invalid(TypeError, name, `${name} must be a comma-separated list of methods like "GET,HEAD", got ${display(value)}`)
    methods.add(method)
  }
  return methods
}

function positiveInteger(value: unknown, fallback: number, name: string, display: (value: unknown) => string): number {
  if (value === undefined) return fallback
  const n = typeof value === 'string' && /^\s*\d+\s*$/.test(value) ? Number(value) : value
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n <= 0) {
    throw invalid(RangeError, name, `${name} must be a positive integer, got ${display(value)}`)
  }
  return n
}

/** The longest wait a timer can make (setTimeout fires at once beyond it). */
const MAX_TIMER_MS = 2 ** 31 - 1

function timerMs(value: number, name: string): number {
  if (value > MAX_TIMER_MS) throw invalid(RangeError, name, `${name} must be at most ${MAX_TIMER_MS} ms (a timer's limit), got ${value}`)
  return value
}

/** Longest string a var's value is shown in full; a longer one could be a secret pasted in the wrong var. */
const SHOWN_CHARS = 12

/**
 * A var's value for the log: a URL without its credentials, query and fragment (where secrets sit),
 * a short string as it is, anything longer cut to its first characters and its length.
 */
export function redact(value: unknown): string {
  if (typeof value !== 'string') return typeof value === 'object' && value !== null ? (Array.isArray(value) ? 'an array' : 'an object') : show(value)
  let url: URL | undefined
  try {
    url = /^[a-z][a-z0-9+.-]*:\/\//i.test(value) ? new URL(value) : undefined
  } catch {
    url = undefined
  }
  if (url !== undefined) {
    const credentials = url.username !== '' || url.password !== '' ? '***@' : ''
    return JSON.stringify(`${url.protocol}//${credentials}${url.host}${url.pathname}${url.search === '' ? '' : '?***'}${url.hash === '' ? '' : '#***'}`)
  }
  if (value.length <= SHOWN_CHARS) return JSON.stringify(value)
  return `${JSON.stringify(`${value.slice(0, 4)}…`)} (${value.length} characters)`
}

/** Levenshtein distance, for "did you mean". */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i)
  for (let i = 1; i <= a.length; i++) {
    const current = [i]
    for (let j = 1; j <= b.length; j++) current[j] = Math.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1))
    previous = current
  }
  return previous[b.length]
}

