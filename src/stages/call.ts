import type { CallOptions, ResilienceInfo, ResilienceTotals, ResilientRequestInit } from '../types.js'
import { checkCallOptions, normalizeRetry, normalizeTimeout, type NormalizedOptions } from '../options.js'
import { priorityOf } from '../priority.js'
import { originOf, urlOf } from '../url.js'
import { tag } from '../info.js'
import { isRequest } from './transport.js'
import type { KeyEntry, Keys } from './keys.js'
import type { Call, Outcome } from './types.js'

/** fetch's arguments with the per-call options taken out (and checked). */
interface Arguments {
  input: RequestInfo | URL
  init: RequestInit | undefined
  options: CallOptions | undefined
}

/** Takes `resilience` out of init; a Request (or any init with getters or inherited members) as init is read whole, as fetch reads it. */
function readArguments(input: RequestInfo | URL, init: ResilientRequestInit | undefined): Arguments {
  if (init === undefined || init === null) return { input, init: undefined, options: undefined }
  const options = init.resilience === undefined ? undefined : checkCallOptions(init.resilience)
  // A spread would keep only own fields; fetch's own constructor reads them all.
  if (!isPlainObject(init)) return { input: new Request(input, init), init: undefined, options }
  if (options === undefined) return { input, init, options }
  const { resilience: _, ...rest } = init
  return { input, init: rest, options }
}

/**
 * Reads fetch's arguments into a call: its options, its key (the per-call key, the instance's key
 * function, else the URL's origin), method, signal, timeouts, retry policy and priority. Returns
 * undefined for an input that is not a URL we can read: the transport then rejects it exactly as
 * fetch does. Throws (synchronously) what fetch itself would refuse, bad per-call options, and a
 * signal already aborted: before a permit, a probe slot or a timer is taken.
 */
export function createCall(given: RequestInfo | URL, givenInit: ResilientRequestInit | undefined, o: NormalizedOptions, keys: Keys): { call: Call; entry: KeyEntry } | undefined {
  let { input, init, options } = readArguments(given, givenInit)
  const url = urlOf(input)
  let key = options?.key
  if (key === undefined && o.key !== undefined) {
    // A custom key needs a Request; build it once and send it.
    input = new Request(input, init)
    init = undefined
    key = o.key(input)
    if (typeof key !== 'string') throw new TypeError(`key() must return a string, got ${typeof key}`)
  }
  key ??= originOf(url)
  if (key === undefined) return undefined
  // As in fetch, init.signal (even null) wins over the Request's own.
  const signal = (init?.signal !== undefined ? init.signal : isRequest(input) ? input.signal : undefined) ?? undefined
  if ((signal !== undefined && !isAbortSignal(signal)) || (isRequest(input) && input.bodyUsed)) throw fetchError(input, init)
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

/** The key a call to `target` would use, or undefined when it has none (the key function throws). */
export function keyOf(target: RequestInfo | URL, o: NormalizedOptions): string | undefined {
  try {
    if (o.key === undefined) return originOf(urlOf(target))
    const key = o.key(isRequest(target) ? target : new Request(target))
    return typeof key === 'string' ? key : undefined
  } catch {
    return undefined
  }
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

function isPlainObject(value: object): boolean {
  const proto = Object.getPrototypeOf(value)
  return proto === Object.prototype || proto === null
}

function isAbortSignal(value: unknown): value is AbortSignal {
  return typeof value === 'object' && value !== null && typeof (value as AbortSignal).aborted === 'boolean' && typeof (value as AbortSignal).addEventListener === 'function'
}

/** The TypeError fetch itself rejects this request with (its message, in this runtime). */
function fetchError(input: RequestInfo | URL, init: RequestInit | undefined): TypeError {
  try {
    new Request(input, init)
  } catch (error) {
    return error as TypeError
  }
  return new TypeError('fetch refuses this request: init.signal must be an AbortSignal and a Request body unused')
}
