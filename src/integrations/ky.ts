import ky, { type Input, type KyInstance, type Options as KyOptions, type ResponsePromise } from 'ky'
import { createResilientFetch } from '../index.js'
import type { CallOptions, ResilientFetch, ResilientFetchOptions } from '../types.js'

export interface ResilientKyOptions extends ResilientFetchOptions {
  /**
   * Options for `ky.create`, e.g. `prefixUrl`, `headers`, `hooks`. `fetch`, `retry` and `timeout` are ours:
   * the transport is `fetch` above, and retries and deadlines are the `retry` and `timeout` options above
   * (so `hooks.beforeRetry`, which ky runs only between its own retries, is refused too).
   * @default {}
   */
  ky?: ResilientKyCallOptions
}

/** ky's options plus `resilience`: the resilient fetch's per-call options (`key`, `retry`, `timeout`, …), passed through ky to it. */
export type ResilientKyCallOptions = KyOptions & { resilience?: CallOptions }

type KyCall = <T>(url: Input, options?: ResilientKyCallOptions) => ResponsePromise<T>

/** A ky instance over a resilient fetch, whose calls, `extend` and `create` also take `resilience`. */
export type ResilientKyCalls = Omit<KyInstance, 'get' | 'post' | 'put' | 'delete' | 'patch' | 'head' | 'create' | 'extend'> & {
  <T>(url: Input, options?: ResilientKyCallOptions): ResponsePromise<T>
  get: KyCall
  post: KyCall
  put: KyCall
  delete: KyCall
  patch: KyCall
  head: (url: Input, options?: ResilientKyCallOptions) => ResponsePromise
  /** New ky defaults over the same resilient fetch. */
  create: (defaultOptions?: ResilientKyCallOptions) => ResilientKyCalls
  extend: (defaultOptions: ResilientKyCallOptions | ((parentOptions: ResilientKyCallOptions) => ResilientKyCallOptions)) => ResilientKyCalls
}

/** A ky instance whose transport is a resilient fetch; `resilientFetch` gives its snapshot, breakers and events. */
export type ResilientKyInstance = ResilientKyCalls & {
  /** The resilient fetch under this instance; instances made with `extend` share it but lack this property. */
  readonly resilientFetch: ResilientFetch
}

/**
 * A ky instance whose `fetch` is `createResilientFetch(options)`, with ky's own retry off (`retry: 0`) and
 * its own timeout off (`timeout: false`), so that our breaker, bulkhead, deadlines and retries apply once.
 * Per-call options travel through ky untouched: `api.get(url, { resilience: { key: 'search', retry: 1 } })`.
 * ky's `retry`, `timeout` and `fetch` are refused (a TypeError naming them) here, in a call's options and in
 * `extend`: there ky would turn its own back on, on top of ours; per call, write `resilience: { retry, timeout }`.
 * So are `hooks.beforeRetry` (ky runs them only between its own retries: they would never run; the resilient fetch's
 * `retry` event reports ours). An `afterResponse` hook's `ky.retry()` rejects with ky's `ForceRetryError`, as ky does
 * with `retry: 0`.
 *
 * @example
 * const api = resilientKy({ breaker: { failureThreshold: 3 }, ky: { prefixUrl: 'https://api.example' } })
 * const user = await api.get('users/1').json()
 * api.resilientFetch.snapshot()
 */
export function resilientKy(options: ResilientKyOptions = {}): ResilientKyInstance {
  if (options === null || typeof options !== 'object') {
    throw new TypeError(`resilientKy options must be an object, got ${String(options)}`)
  }
  const { ky: kyOptions = {}, ...fetchOptions } = options
  if (kyOptions === null || typeof kyOptions !== 'object') {
    throw new TypeError(`ky must be an object of ky options, got ${String(kyOptions)}`)
  }
  const resilientFetch = createResilientFetch(fetchOptions)
  return Object.defineProperty(created(resilientFetch, checked(kyOptions, 'ky')), 'resilientFetch', { value: resilientFetch, enumerable: true }) as ResilientKyInstance
}

/** A ky instance on `kyOptions` over the resilient fetch, ky's own retry and timeout off, guarded. */
function created(resilientFetch: ResilientFetch, kyOptions: KyOptions): KyInstance {
  return guarded(ky.create({ ...kyOptions, fetch: resilientFetch, retry: 0, timeout: false }), resilientFetch)
}

/** The options ky takes from the instance's defaults unless a call or `extend` gives them, even as undefined. */
const UNSET = ['fetch', 'retry', 'timeout'] as const

/** ky's own retry or deadline, or another transport: refused wherever given (resilientKy's `ky`, a call's options, `extend`), as two layers of retries or deadlines would multiply attempts and hide which one fired; and the hooks only ky's retry would run. */
function checked<T extends KyOptions | undefined>(options: T, path: string, parent?: KyOptions): T {
  if (options == null) return options
  // A function given to extend may spread its parent's options, our fetch among them.
  if (options.fetch !== undefined && options.fetch !== parent?.fetch) throw new TypeError(`${path}.fetch must be left unset: the transport is the fetch option`)
  if (options.retry !== undefined && options.retry !== 0) {
    throw new TypeError(`${path}.retry must be left unset: retries are the retry option (per call: resilience.retry), got ${JSON.stringify(options.retry)}`)
  }
  if (options.timeout !== undefined && options.timeout !== false) {
    throw new TypeError(`${path}.timeout must be left unset: deadlines are the timeout option (per call: resilience.timeout), got ${String(options.timeout)}`)
  }
  // ky runs these only between its own retries, which are off: given, they would silently never run.
  const beforeRetry: unknown = options.hooks?.beforeRetry
  if (beforeRetry !== undefined && !(Array.isArray(beforeRetry) && beforeRetry.length === 0)) {
    throw new TypeError(`${path}.hooks.beforeRetry must be left empty: ky's retry is off, so they would never run (retries are the retry option; the resilient fetch's 'retry' event reports each)`)
  }
  // Given as undefined, they are unset too; but ky's merge would let the undefined replace ours, turning on its
  // default retry and 10 s timeout, or its global fetch in place of the resilient one. So they are left out.
  const unset = UNSET.filter((name) => name in options && options[name] === undefined)
  if (unset.length === 0) return options
  const copy = { ...options }
  for (const name of unset) delete copy[name]
  return copy
}

const METHODS = new Set(['get', 'post', 'put', 'patch', 'head', 'delete'])

/**
 * The instance, with each call's options and each `extend`'s checked first: ky would otherwise turn its own retry or
 * timeout back on for them. Its `create` (new defaults) stays on the same resilient fetch: ky's would drop it, silently.
 */
function guarded(instance: KyInstance, resilientFetch: ResilientFetch): KyInstance {
  return new Proxy(instance, {
    apply: (target, _this, [input, options]: Parameters<KyInstance>) => target(input, checked(options, 'options')),
    get(target, name, receiver) {
      const value: unknown = Reflect.get(target, name, receiver)
      if (name === 'extend') {
        return (options: Parameters<KyInstance['extend']>[0]) =>
          guarded(target.extend(typeof options === 'function' ? (parent: KyOptions) => checked(options(parent), 'extend', parent) : checked(options, 'extend')), resilientFetch)
      }
      if (name === 'create') return (options: KyOptions = {}) => created(resilientFetch, checked(options, 'create'))
      return typeof name === 'string' && METHODS.has(name) ? (input: Input, options?: KyOptions) => (value as KyInstance['get'])(input, checked(options, 'options')) : value
    },
  })
}
