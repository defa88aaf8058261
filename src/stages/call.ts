import type { CallOptions, ResilienceInfo, ResilienceTotals, ResilientRequestInit } from '../types.js'
import { normalizeRetry, normalizeTimeout, type NormalizedOptions } from '../options.js'
import { originOf, urlOf } from '../url.js'
import { tag } from '../info.js'
import { isRequest } from './transport.js'
import type { KeyEntry, Keys } from './keys.js'
import { priorityOf } from '../priority.js'
import type { Call, Outcome } from './types.js'

const CALL_OPTIONS = ['key', 'timeout', 'retry', 'fallback', 'waitUntil', 'priority', 'hedge', 'coalesce']

/**
 * Reads fetch's arguments into a call: its options, its key (the instance's key function, else
 * the URL's origin), method, signal, timeouts and retry policy. Returns undefined for an input
 * that is not a URL we can read: the transport then rejects it exactly as fetch does.
 * Throws (synchronously) for bad per-call options and for a signal already aborted.
 */
export function createCall(input: RequestInfo | URL, init: ResilientRequestInit | undefined, o: NormalizedOptions, keys: Keys): { call: Call; entry: KeyEntry } | undefined {
  let options: CallOptions | undefined
  if (init !== undefined && init !== null && init.resilience !== undefined) {
    options = checkCallOptions(init.resilience)
    const { resilience: _, ...rest } = init
    init = rest
  }
  const url = urlOf(input)
  let key = options?.key
  if (key === undefined) {
    if (o.key !== undefined) {
      // A custom key needs a Request; build it once and send it.
      const request = new Request(input, init)
      key = o.key(request)
      if (typeof key !== 'string') throw new TypeError(`key() must return a string, got ${typeof key}`)
      input = request
      init = undefined
    } else {
      key = originOf(url)
      if (key === undefined) return undefined
    }
  }
  // As in fetch, init.signal (even null) wins over the Request's own.
  const signal = (init?.signal !== undefined ? init.signal : isRequest(input) ? input.signal : undefined) ?? undefined
  if (signal?.aborted) throw signal.reason
  const entry = keys.get(key)
  const call: Call = {
    key,
    input,
    init,
    method: String(init?.method ?? (isRequest(input) ? input.method : 'GET')).toUpperCase(),
    url,
    signal,
    timeout: options?.timeout === undefined ? o.timeout : normalizeTimeout(options.timeout, 'resilience.timeout'),
    retry: options?.retry === undefined ? o.retry : normalizeRetry(options.retry, 'resilience.retry'),
    priority: priorityOf(options?.priority, init?.priority),
    options,
    waitUntil: options?.waitUntil,
    deadline: undefined,
    attempts: 0,
    states: entry.states,
  }
  return { call, entry }
}

/** Ends a call from its outcome: counts it, tags a response for resilienceInfo, or throws what fetch would. */
export function finish(call: Call, outcome: Outcome, totals: ResilienceTotals): Response {
  if (outcome.kind === 'aborted') throw outcome.reason
  const success = outcome.kind === 'response' && !outcome.failure
  if (success) totals.successes++
  else if (call.attempts > 0) totals.failures++
  else totals.rejected++
  if (outcome.kind !== 'response') throw outcome.error
  const { response, storedAt } = outcome
  const info: ResilienceInfo = storedAt === undefined ? { source: 'network', key: call.key, attempts: call.attempts } : { source: 'fallback', key: call.key, attempts: call.attempts, storedAt }
  if (outcome.hedged === true) info.hedged = true
  if (outcome.coalesced === true) info.coalesced = true
  tag(response, info)
  return response
}

function checkCallOptions(value: unknown): CallOptions {
  if (typeof value !== 'object' || value === null) throw new TypeError(`resilience must be an object, got ${String(value)}`)
  for (const k of Object.keys(value)) {
    if (!CALL_OPTIONS.includes(k)) throw new TypeError(`resilience.${k} is not an option (known: ${CALL_OPTIONS.join(', ')})`)
  }
  const c = value as CallOptions
  if (c.key !== undefined && (typeof c.key !== 'string' || c.key === '')) throw new TypeError(`resilience.key must be a non-empty string, got ${JSON.stringify(c.key)}`)
  if (c.fallback !== undefined && typeof c.fallback !== 'boolean') throw new TypeError(`resilience.fallback must be a boolean, got ${JSON.stringify(c.fallback)}`)
  if (c.hedge !== undefined && typeof c.hedge !== 'boolean') throw new TypeError(`resilience.hedge must be a boolean, got ${JSON.stringify(c.hedge)}`)
  if (c.coalesce !== undefined && typeof c.coalesce !== 'boolean') throw new TypeError(`resilience.coalesce must be a boolean, got ${JSON.stringify(c.coalesce)}`)
  if (c.waitUntil !== undefined && typeof c.waitUntil !== 'function') throw new TypeError(`resilience.waitUntil must be a function, got ${typeof c.waitUntil}`)
  return c
}
