import type { CallOptions, ResilienceInfo, ResilienceTotals, ResilientRequestInit } from '../types.js'
import { checkCallOptions, retrySchema, timeoutSchema, type NormalizedOptions } from '../options.js'
import { priorityOf } from '../priority.js'
import { isRequest, originOf } from '../url.js'
import { isOneShot, refusedRedirect } from './transport.js'
import { infos } from '../info.js'
import type { Keys } from './keys.js'
import { discard, type Call, type Outcome } from './types.js'

/**
 * Reads fetch's arguments into a call: its options (`init.resilience`, taken out and checked), its
 * key (the per-call key, the instance's key function, else the URL's origin), method, signal,
 * timeouts, retry policy and priority. Returns undefined for an input that is not a URL we can read:
 * the transport then rejects it exactly as fetch does. Throws (synchronously) what fetch itself would
 * refuse, bad per-call options, and a signal already aborted: before a permit, a probe slot or a timer is taken.
 */
export function createCall(input: RequestInfo | URL, given: ResilientRequestInit | undefined, o: NormalizedOptions, keys: Keys, at: number): Call | undefined {
  let init: RequestInit | undefined = given ?? undefined
  const options = given?.resilience === undefined ? undefined : checkCallOptions(given.resilience)
  // Merged over the instance's here, first: a bad one is refused before the key function runs or an aborted signal is seen.
  const timeout = options?.timeout === undefined ? o.timeout : timeoutSchema(options.timeout, 'resilience.timeout', o.timeout)
  const retry = options?.retry === undefined ? o.retry : retrySchema(options.retry, 'resilience.retry', o.retry)
  // Read from the caller's init before it may become a Request (an init of another kind, a custom key): a Request keeps neither.
  const priority = priorityOf(options?.priority, given?.priority)
  // A Request the caller built from a stream body cannot be told from one with a body it can clone: it is still retried and hedged.
  const oneShot = isOneShot(given?.body)
  if (given != null) {
    // A Request (or any init with getters or inherited members) as init is read whole, as fetch reads it: a spread would keep only own fields.
    const proto = Object.getPrototypeOf(given)
    if (proto !== Object.prototype && proto !== null) {
      input = new Request(input, given)
      init = undefined
    } else if (options !== undefined) {
      const { resilience: _, ...rest } = given
      init = rest
    }
    // fetch(request, init) with any member of init (not undefined, as WebIDL reads it) starts the Request's referrer and policy again; each attempt's init keeps them (transport.ts).
    if (isRequest(input))
      for (const name in init)
        if (name in input && init[name as keyof RequestInit] !== undefined) {
          init = { referrer: 'about:client', referrerPolicy: '', ...init }
          break
        }
  }
  const url = urlOf(input)
  let key = options?.key
  if (key === undefined && o.key !== undefined) {
    // A custom key needs a Request; build it once and send it, with what of init a Request does not keep (Node's dispatcher, Bun's proxy, Deno's client).
    input = new Request(input, init)
    init = leftovers(init, input)
    key = o.key(input as Request)
    if (typeof key !== 'string') throw new TypeError(`key() must return a string, got ${typeof key}`)
  } else if (isRequest(input) && input.bodyUsed && init?.body != null) {
    // fetch sends a read Request with init's new body: as a new Request, which each attempt can clone.
    input = new Request(input, init)
    init = leftovers(init, input)
  }
  key ??= originOf(url)
  if (key === undefined) return undefined
  const request = isRequest(input) ? input : undefined
  // As in fetch, init.signal (even null) wins over the Request's own.
  const signal = (init?.signal !== undefined ? init.signal : request?.signal) ?? undefined
  // An AbortSignal of any realm (duck-typed), and a body not read yet: else fetch itself refuses the request.
  if ((signal !== undefined && (typeof signal !== 'object' || typeof signal.aborted !== 'boolean' || typeof signal.addEventListener !== 'function')) || request?.bodyUsed) {
    // Building the request throws the TypeError fetch itself would reject with (its message, in this runtime); else ours.
    new Request(input, init)
    throw new TypeError('init.signal must be an AbortSignal, a Request body unused')
  }
  if (signal?.aborted) throw signal.reason
  return {
    key,
    input,
    init,
    method: String(init?.method ?? request?.method ?? 'GET').toUpperCase(),
    url,
    signal,
    timeout,
    retry,
    priority,
    oneShot,
    options,
    waitUntil: options?.waitUntil && advisory(options.waitUntil),
    at,
    deadline: undefined,
    attempts: 0,
    checked: false,
    states: keys.get(key).states,
  }
}

/**
 * The caller's waitUntil, made advisory: one that throws (its request has ended, a wrapper of one's own) leaves the work
 * running and the call as it was. Its own function, called only when there is one: a closure in the call's would cost a
 * context per call.
 */
function advisory(waitUntil: (promise: Promise<unknown>) => void): (promise: Promise<unknown>) => void {
  return (work) => {
    try {
      waitUntil(work)
    } catch {}
  }
}

/** The members of `init` that `request` does not hold: a runtime's own fetch options, sent beside it; undefined when none. */
function leftovers(init: RequestInit | undefined, request: Request): RequestInit | undefined {
  let rest: Record<string, unknown> | undefined
  for (const name in init) if (!(name in request)) (rest ??= {})[name] = init[name as keyof RequestInit]
  return rest
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
  if (outcome.kind === 'response' && !outcome.failure) totals.successes++
  else if (call.attempts > 0) totals.failures++
  else totals.rejected++
  if (outcome.kind !== 'response') throw outcome.error
  // The upstream answered (the breaker counted a success): the caller refused the redirect, and gets fetch's TypeError.
  if (refusedRedirect(call, outcome.response)) {
    discard(outcome)
    throw new TypeError(`redirect: 'error' refused a redirect from ${call.url}`)
  }
  const { storedAt } = outcome
  const info: ResilienceInfo = { source: storedAt === undefined ? 'network' : 'fallback', key: call.key, attempts: call.attempts }
  if (storedAt !== undefined) {
    // Per call, here where each call ends: coalesced calls share one recall of the copy, but each is served it.
    totals.fallbacks++
    info.storedAt = storedAt
  }
  if (outcome.hedged) info.hedged = true
  if (outcome.coalesced) info.coalesced = true
  infos.set(outcome.response, info)
  return outcome.response
}

/**
 * The URL string of fetch's input, without parsing it. Here, not in url.ts, which the lazy chunks share with
 * the core: only the core reads it, so it stays in the core's own chunk (no import across the boundary).
 */
export const urlOf = (input: RequestInfo | URL): string =>
  // A URL stringifies to its href.
  typeof input === 'string' ? input : isRequest(input) ? input.url : String(input)
