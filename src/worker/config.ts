import type { KvNamespaceLike } from '../store/kv.js'
import { kvNamespace } from '../store/kv-options.js'
import type { FallbackStore } from '../types.js'
import { coordinatorNamespace, type CoordinatorNamespace } from './share.js'
import { show } from '../validate.js'
import { anything, duration, fail, func, optional, positiveInteger, shapeOf, string, struct, withMethods, type Check, type Checked } from '../schema.js'

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

/** createProxy's options name themselves. */
const OPTION_NAMES = Object.fromEntries(Object.keys(ENV_NAMES).map((option) => [option, option])) as Names

/**
 * A count or a whole number of ms; a var holds text, so a number written in one counts as that number (a negative or a
 * fraction too, so that it is refused for what it is, not as text).
 */
const count: Check<number> = (value, path) => positiveInteger(typeof value === 'string' && /^\s*-?\d{1,15}(\.\d{1,15})?\s*$/.test(value) ? Number(value) : value, path)

/** A whole number of ms that a timer waits for (or the breaker counts in): at most what setTimeout can wait. */
const ms: Check<number> = (value, path) => duration(count(value, path), path)

/** A method name is an HTTP token. */
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Z-]+$/

/** Methods fetch refuses to send (the Fetch standard's forbidden methods): every request for one would fail. */
const FORBIDDEN_METHODS = ['CONNECT', 'TRACE', 'TRACK']

/** Method names, as an array or a comma-separated string ("GET,HEAD"), upper-cased. */
const methodList: Check<ReadonlySet<string>> = (value, path) => {
  const list: unknown = typeof value === 'string' ? value.split(',') : value
  const names = Array.isArray(list) ? list.map((m: unknown) => (typeof m === 'string' ? m.trim().toUpperCase() : '')) : []
  if (!Array.isArray(list) || !names.every((m) => TOKEN.test(m))) fail(path, 'a comma-separated list of methods like "GET,HEAD"', value, true)
  const forbidden = names.find((m) => FORBIDDEN_METHODS.includes(m))
  if (forbidden !== undefined) fail(path, `methods fetch can send (not ${forbidden})`, value)
  return new Set(names)
}

const customStore = withMethods<FallbackStore>("'memory' or a FallbackStore", ['get', 'put', 'delete', 'clear'])

/** Every option of createProxy (and, named as ENV_NAMES says, every var): each one's check and default. */
export const proxyConfigSchema = struct({
  // Checked as http(s) URLs where the routes are built, naming the route.
  upstream: anything<unknown>,
  routes: anything<unknown>,
  timeout: [ms, 2_000],
  maxConcurrent: [count, 50],
  failureThreshold: [count, 5],
  window: [ms, 30_000],
  openDuration: [ms, 30_000],
  methods: [methodList, ['GET', 'HEAD']],
  metricsToken: optional(string),
  fetch: optional(func<typeof globalThis.fetch>),
  store: optional<FallbackStore | 'memory'>((value, path) => (value === 'memory' ? value : customStore(value, path))),
  lastKnownGood: optional(kvNamespace),
  coordinator: optional(coordinatorNamespace),
  minReporters: [count, 2],
  hedge: optional(ms),
})

type CheckedConfig = Checked<typeof proxyConfigSchema>

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
  return resolve(checkVars(config), { names: ENV_NAMES, display: redact })
}

/**
 * Each var's value through the option's check in the schema, named by the var; a value that fails is
 * shown redacted (a var may hold a secret pasted in the wrong place).
 */
function checkVars(config: ProxyConfig): CheckedConfig {
  const checked: Record<string, unknown> = {}
  for (const [option, { check, default: fallback }] of Object.entries(shapeOf(proxyConfigSchema)!)) {
    const value = (config as Record<string, unknown>)[option]
    const name = ENV_NAMES[option as keyof Names] ?? option
    try {
      checked[option] = check(value === undefined ? fallback : value, name)
    } catch (error) {
      throw invalid(error instanceof RangeError ? RangeError : TypeError, name, redacted((error as Error).message, value))
    }
  }
  return checked as CheckedConfig
}

/** `message` with the var's value shown as redact shows it. */
function redacted(message: string, value: unknown): string {
  const shown = redact(value)
  const out = message.replaceAll(show(value), shown)
  // The hint for a number written as a string repeats the string itself.
  return typeof value === 'string' && value.trim() !== '' && shown !== show(value) ? out.replaceAll(value.trim(), '…') : out
}

/** Validates a ProxyConfig and fills in the defaults; errors name the option and the value. */
export function resolveConfig(config: ProxyConfig): ResolvedConfig {
  let checked: CheckedConfig
  try {
    checked = proxyConfigSchema(config, '')
  } catch (error) {
    throw withSuggestion(error, config)
  }
  return resolve(checked, { names: OPTION_NAMES, display: show })
}

/** A misspelt option's error also names the option it is closest to. */
function withSuggestion(error: unknown, config: object): unknown {
  const known = Object.keys(proxyConfigSchema.shape)
  const typo = Object.keys(config).find((key) => !known.includes(key))
  const near = typo === undefined ? undefined : known.find((option) => editDistance(option.toLowerCase(), typo.toLowerCase()) <= 2)
  return near === undefined ? error : invalid(TypeError, typo!, `${(error as Error).message}: did you mean ${near}?`)
}

function resolve(config: CheckedConfig, naming: Naming): ResolvedConfig {
  const { routes, upstream, lastKnownGood, store, metricsToken, ...rest } = config
  if (lastKnownGood !== undefined && store !== undefined) {
    throw invalid(TypeError, 'store', `store and ${naming.names.lastKnownGood} cannot both be set: both say where the copies live`)
  }
  const resolved = resolveRoutes({ routes, upstream }, naming)
  // A hedge goes only to a route's next origin, and never once the attempt it races has timed out (the retry goes then).
  const { hedge, timeout } = rest
  if (hedge !== undefined && hedge >= timeout && resolved.some((route) => route.upstreams.length > 1)) {
    throw invalid(RangeError, naming.names.hedge, `${naming.names.hedge} must be less than ${naming.names.timeout} (${timeout} ms), as an attempt has timed out before its hedge would start, got ${naming.display(hedge)}`)
  }
  return { ...rest, routes: resolved, lastKnownGood, store, metricsToken: metricsToken === '' ? undefined : metricsToken }
}

function resolveRoutes(config: { routes: unknown; upstream: unknown }, naming: Naming): Route[] {
  const { names, display } = naming
  const routes = config.routes
  if (routes !== undefined && (routes === null || typeof routes !== 'object' || Array.isArray(routes))) {
    throw invalid(TypeError, names.routes, `${names.routes} must be an object of path prefix to origins, got ${display(routes)}`)
  }
  if (routes !== undefined && Object.keys(routes).length > 0) {
    // Each route's prefix as matched, to the key it was written as.
    const keys = new Map<string, string>()
    const resolved = Object.entries(routes).map(([key, origins]) => {
      const route = resolveRoute(key, origins, naming)
      // The key written first would take every request, the other route none.
      const first = keys.get(route.prefix)
      if (first !== undefined) throw invalid(TypeError, names.routes, `${names.routes} keys must be distinct prefixes, got ${display(first)} and ${display(key)}, both the prefix ${display(route.prefix)}`)
      keys.set(route.prefix, key)
      return route
    })
    return resolved.sort((a, b) => b.prefix.length - a.prefix.length)
  }
  if (config.upstream === undefined) throw invalid(TypeError, names.upstream, `${names.upstream} (or ${names.routes}) must be set to the upstream's http(s) URL`)
  return [{ prefix: API_PREFIX, upstreams: [resolveUpstream(config.upstream, names.upstream, names.upstream, display)] }]
}

/** One ROUTES entry: its prefix as a request's path is written, and its origins, each once. */
function resolveRoute(prefix: string, origins: unknown, { names, display }: Naming): Route {
  const where = `${names.routes}[${JSON.stringify(prefix)}]`
  if (!prefix.startsWith('/') || prefix.startsWith('//') || /[?#*\\\0-\x1f\x7f]|%2e|(^|\/)\.\.?(\/|$)/i.test(prefix)) {
    throw invalid(TypeError, names.routes, `${names.routes} keys must be path prefixes like "/api/", got ${display(prefix)}`)
  }
  const list = typeof origins === 'string' ? [origins] : origins
  if (!Array.isArray(list) || list.length === 0) throw invalid(TypeError, names.routes, `${where} must be a non-empty array of http(s) URLs, got ${display(origins)}`)
  const upstreams = list.map((url) => resolveUpstream(url, where, names.routes, display))
  // Breakers and bulkheads are per origin: a retry or hedge would go back to the origin that just failed.
  const twice = upstreams.find((upstream, i) => upstreams.findIndex((other) => other.origin === upstream.origin) < i)
  if (twice !== undefined) throw invalid(TypeError, names.routes, `${where} must list each origin once (a retry or a hedge goes to another origin), got ${display(twice.origin)} twice`)
  // As the URL parser writes a request's path (non-ASCII and spaces percent-encoded), which is what it is matched against;
  // the '?' keeps a trailing space, which the parser would trim.
  const path = new URL(`${prefix}?`, 'http://prefix.invalid').pathname
  return { prefix: path.endsWith('/') ? path : `${path}/`, upstreams }
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

