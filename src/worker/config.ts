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
  /** Where last-known-good copies live. @default cacheStore() (the Cache API) */
  store?: FallbackStore | 'memory'
  /**
   * The `BreakerCoordinator` Durable Object namespace (the `BREAKERS` binding): one breaker per
   * origin for the whole fleet of isolates (see durableObjectShare). @default none: each isolate on its own
   */
  coordinator?: CoordinatorNamespace
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
  coordinator: CoordinatorNamespace | undefined
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
      throw new TypeError(`ROUTES must be JSON like {"/api/": ["https://a.example"]}, got ${show(env.ROUTES)} (${(error as Error).message})`)
    }
  }
  return resolveConfig(config, ENV_NAMES)
}

/** Validates a ProxyConfig and fills in the defaults; errors name the option (or the var, via `names`). */
export function resolveConfig(config: ProxyConfig, names: Names = OPTION_NAMES): ResolvedConfig {
  if (config === null || typeof config !== 'object') throw new TypeError(`config must be an object, got ${show(config)}`)
  if (config.fetch !== undefined && typeof config.fetch !== 'function') throw new TypeError(`fetch must be a function, got ${show(config.fetch)}`)
  const store = config.store
  if (store !== undefined && store !== 'memory' && (typeof store !== 'object' || store === null || typeof store.get !== 'function' || typeof store.put !== 'function')) {
    throw new TypeError(`store must be 'memory' or a FallbackStore, got ${show(store)}`)
  }
  const token = config.metricsToken
  if (token !== undefined && typeof token !== 'string') throw new TypeError(`${names.metricsToken} must be a string, got ${show(token)}`)
  const coordinator = config.coordinator
  if (coordinator !== undefined && (typeof coordinator !== 'object' || coordinator === null || typeof coordinator.idFromName !== 'function' || typeof coordinator.get !== 'function')) {
    throw new TypeError(`${names.coordinator} must be a Durable Object namespace binding (class_name = "BreakerCoordinator"), got ${show(coordinator)}`)
  }
  return {
    routes: resolveRoutes(config, names),
    timeout: positiveInteger(config.timeout, 2_000, names.timeout),
    maxConcurrent: positiveInteger(config.maxConcurrent, 50, names.maxConcurrent),
    failureThreshold: positiveInteger(config.failureThreshold, 5, names.failureThreshold),
    window: positiveInteger(config.window, 30_000, names.window),
    openDuration: positiveInteger(config.openDuration, 30_000, names.openDuration),
    methods: resolveMethods(config.methods, names.methods),
    metricsToken: token === '' ? undefined : token,
    fetch: config.fetch,
    store,
    coordinator,
  }
}

function resolveRoutes(config: ProxyConfig, names: Names): Route[] {
  const routes = config.routes
  if (routes !== undefined && (routes === null || typeof routes !== 'object' || Array.isArray(routes))) {
    throw new TypeError(`${names.routes} must be an object of path prefix to origins, got ${show(routes)}`)
  }
  if (routes !== undefined && Object.keys(routes).length > 0) {
    const resolved: Route[] = []
    for (const [prefix, origins] of Object.entries(routes)) {
      const where = `${names.routes}[${JSON.stringify(prefix)}]`
      if (!prefix.startsWith('/') || prefix.startsWith('//') || /[?#\\]|%2e|(^|\/)\.\.?(\/|$)/i.test(prefix)) {
        throw new TypeError(`${names.routes} keys must be path prefixes like "/api/", got ${JSON.stringify(prefix)}`)
      }
      const list = typeof origins === 'string' ? [origins] : origins
      if (!Array.isArray(list) || list.length === 0) throw new TypeError(`${where} must be a non-empty array of http(s) URLs, got ${show(origins)}`)
      resolved.push({ prefix: prefix.endsWith('/') ? prefix : `${prefix}/`, upstreams: list.map((url) => resolveUpstream(url, where)) })
    }
    return resolved.sort((a, b) => b.prefix.length - a.prefix.length)
  }
  if (config.upstream === undefined) throw new TypeError(`${names.upstream} (or ${names.routes}) must be set to the upstream's http(s) URL`)
  return [{ prefix: API_PREFIX, upstreams: [resolveUpstream(config.upstream, names.upstream)] }]
}

function resolveUpstream(value: unknown, name: string): Upstream {
  let url: URL | undefined
  try {
    url = typeof value === 'string' ? new URL(value) : undefined
  } catch {
    url = undefined
  }
  if (url === undefined || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
    throw new TypeError(`${name} must be an absolute http(s) URL, got ${show(value)}`)
  }
  if (url.username !== '' || url.password !== '' || url.search !== '' || url.hash !== '') {
    throw new TypeError(`${name} must be an http(s) URL without credentials, query or fragment, got ${show(value)}`)
  }
  return { origin: url.origin, basePath: url.pathname.replace(/\/+$/, '') }
}

function resolveMethods(value: unknown, name: string): ReadonlySet<string> {
  if (value === undefined) return new Set(['GET', 'HEAD'])
  const list = typeof value === 'string' ? value.split(',') : value
  if (!Array.isArray(list)) throw new TypeError(`${name} must be a comma-separated list of methods like "GET,HEAD", got ${show(value)}`)
  const methods = new Set<string>()
  for (const item of list) {
    const method = typeof item === 'string' ? item.trim().toUpperCase() : ''
    if (!TOKEN.test(method)) throw new TypeError(`${name} must be a comma-separated list of methods like "GET,HEAD", got ${show(value)}`)
    methods.add(method)
  }
  return methods
}

function positiveInteger(value: unknown, fallback: number, name: string): number {
  if (value === undefined) return fallback
  const n = typeof value === 'string' && /^\s*\d+\s*$/.test(value) ? Number(value) : value
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n <= 0) {
    throw new RangeError(`${name} must be a positive integer, got ${show(value)}`)
  }
  return n
}

