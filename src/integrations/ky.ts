import ky, { type KyInstance, type Options as KyOptions } from 'ky'
import { createResilientFetch } from '../index.js'
import type { ResilientFetch, ResilientFetchOptions } from '../types.js'

export interface ResilientKyOptions extends ResilientFetchOptions {
  /**
   * Options for `ky.create`, e.g. `prefixUrl`, `headers`, `hooks`. `fetch`, `retry` and `timeout` are ours:
   * the transport is `fetch` above, and retries and deadlines are the `retry` and `timeout` options above.
   * @default {}
   */
  ky?: KyOptions
}

/** A ky instance whose transport is a resilient fetch; `resilientFetch` gives its snapshot, breakers and events. */
export type ResilientKyInstance = KyInstance & {
  /** The resilient fetch under this instance; instances made with `extend` share it but lack this property. */
  readonly resilientFetch: ResilientFetch
}

/**
 * A ky instance whose `fetch` is `createResilientFetch(options)`, with ky's own retry off (`retry: 0`) and
 * its own timeout off (`timeout: false`), so that our breaker, bulkhead, deadlines and retries apply once.
 * Per-call options travel through ky untouched: `api.get(url, { resilience: { key: 'search' } } as Options)`.
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
  // Two layers of retries or deadlines would multiply attempts and hide which one fired.
  if (kyOptions.fetch !== undefined) throw new TypeError('ky.fetch must be left unset: the transport is the fetch option')
  if (kyOptions.retry !== undefined && kyOptions.retry !== 0) {
    throw new TypeError(`ky.retry must be left unset: retries are the retry option, got ${JSON.stringify(kyOptions.retry)}`)
  }
  if (kyOptions.timeout !== undefined && kyOptions.timeout !== false) {
    throw new TypeError(`ky.timeout must be left unset: deadlines are the timeout option, got ${String(kyOptions.timeout)}`)
  }

  const resilientFetch = createResilientFetch(fetchOptions)
  const instance = ky.create({ ...kyOptions, fetch: resilientFetch, retry: 0, timeout: false })
  return Object.defineProperty(instance, 'resilientFetch', { value: resilientFetch, enumerable: true }) as ResilientKyInstance
}
