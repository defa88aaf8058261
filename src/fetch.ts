import type {
  BreakerControl,
  CallOptions,
  ResilienceSnapshot,
  ResilienceTotals,
  ResilientFetch,
  ResilientFetchOptions,
  ResilientRequestInit,
  RequestInput,
} from './types.js'
import {
  normalizeOptions,
  normalizeRetry,
  normalizeTimeout,
  type NormalizedOptions,
  type NormalizedRetry,
  type NormalizedTimeout,
} from './options.js'
import { BulkheadRejectedError, TimeoutError, circuitOpenError } from './errors.js'
import { Events } from './events.js'
import { Registry, type Endpoint } from './registry.js'
import { REFUSED } from './breaker/breaker.js'
import { backoffDelay, parseRetryAfter, sleep } from './retry.js'
import { isFailureDefault } from './classify.js'
import type { Fallback, FallbackRequest } from './fallback.js'
import { lazyFallback } from './fallback-lazy.js'
import { baseUrl, originOf, urlOf } from './url.js'
import { tag } from './info.js'
import { follow, keepWith } from './deadline.js'
import { now } from './clock.js'

/** The state of one call as it moves through the pipeline. */
interface Call {
  key: string
  endpoint: Endpoint
  input: RequestInfo | URL
  init: RequestInit | undefined
  method: string
  signal: AbortSignal | undefined
  timeout: NormalizedTimeout
  retry: NormalizedRetry | false
  /** Absolute time of the total deadline, or undefined. */
  deadline: number | undefined
  /** The input is a Request with a body: each attempt sends a clone. */
  cloneInput: boolean
  /** The body can be sent again (not a stream or an async iterable): only then may a retry or a hedge resend it. */
  replayable: boolean
  attempts: number
  /** The current attempt passed the breaker and bulkhead. */
  reached: boolean
  /** Some attempt reached the network. */
  everReached: boolean
  /** The response the call ends with was judged a failure. */
  failed: boolean
  /** A retried response, kept whole until the next attempt is admitted. */
  previous: Response | undefined
  waitUntil: CallOptions['waitUntil']
}

/** What an admitted attempt holds until it ends; each part is given back exactly once. */
interface Lease {
  /** When the attempt was admitted. */
  t: number
  /** The breaker's token for this attempt (REFUSED without a breaker). */
  token: number
  /** Holds a bulkhead permit. */
  permit: boolean
  /** Holds the share's probe lease. */
  probe: boolean
  /** Holds a breaker admission no outcome was recorded for yet. */
  slot: boolean
}

const CALL_OPTIONS = ['key', 'timeout', 'retry', 'fallback', 'waitUntil']

export function createResilientFetch(options?: ResilientFetchOptions): ResilientFetch {
  const o: NormalizedOptions = normalizeOptions(options)
  const events = new Events()
  const share = o.share
  const registry = new Registry(o, (breaker, from, to, remote) => {
    events.emit('statechange', { key: breaker.key, from, to })
    if (!remote && share?.publish !== undefined) share.publish(breaker.key, breaker.view())
  })
  share?.connect((key, state) => {
    // A remote open creates the key (its first call then fails fast); other news of a key unused here is dropped.
    const open = state.state === 'open' || state.state === 'forced-open'
    const endpoint = open ? registry.get(key) : registry.find(key)
    endpoint?.breaker?.adopt(state)
  })
  const fallback: Fallback | undefined = o.fallback
    ? lazyFallback(o.fallback, (type, detail) => events.emit(type, detail), now)
    : undefined
  const totals: ResilienceTotals = { requests: 0, successes: 0, failures: 0, rejected: 0, timeouts: 0, retries: 0, fallbacks: 0, hedges: 0, throttled: 0, coalesced: 0 }
  const slowCall = o.breaker ? o.breaker.slowCall : undefined
  const openOnRetryAfter = o.breaker ? o.breaker.retryAfter : false
  const customIsFailure = o.isFailure !== isFailureDefault

  // Not async: an open breaker refuses without entering the async pipeline, and fetch never throws synchronously.
  function rf(input: RequestInfo | URL, init?: ResilientRequestInit): Promise<Response> {
    try {
      return start(input, init)
    } catch (error) {
      return Promise.reject(error)
    }
  }

  function start(input: RequestInfo | URL, init?: ResilientRequestInit): Promise<Response> {
    const transport = o.fetch ?? globalThis.fetch
    let callOptions: CallOptions | undefined
    if (init !== undefined && init !== null) {
      if (init.resilience !== undefined) callOptions = checkCallOptions(init.resilience)
      if (!isPlainObject(init)) {
        // A Request (or any object with getters or inherited members) as init: a spread would keep only own fields; fetch's own constructor reads them all.
        input = new Request(input, init)
        init = undefined
      } else if (callOptions !== undefined) {
        const { resilience: _, ...rest } = init
        init = rest
      }
    }
    const url = urlOf(input)
    let key = callOptions?.key
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
        // Not a URL we can read: let the transport reject it exactly as fetch does.
        if (key === undefined) return transport(input, init)
      }
    }
    const method = String(init?.method ?? (isRequest(input) ? input.method : 'GET')).toUpperCase()
    const timeout = callOptions?.timeout === undefined ? o.timeout : normalizeTimeout(callOptions.timeout, 'resilience.timeout')
    const retry = callOptions?.retry === undefined ? o.retry : normalizeRetry(callOptions.retry, 'resilience.retry')
    // As in fetch, init.signal (even null) wins over the Request's own.
    const signal = (init?.signal !== undefined ? init.signal : isRequest(input) ? input.signal : undefined) ?? undefined
    // What fetch itself refuses is refused here, before a permit, a probe slot or a timer is taken.
    if ((signal !== undefined && !isAbortSignal(signal)) || (isRequest(input) && input.bodyUsed)) throw fetchError(input, init)
    if (signal?.aborted) throw signal.reason

    const endpoint = registry.get(key)
    const t = now()
    const useFallback = fallback !== undefined && method === 'GET' && callOptions?.fallback !== false
    if (!useFallback && endpoint.breaker !== undefined && endpoint.breaker.refuses(t)) {
      totals.requests++
      totals.rejected++
      return Promise.reject(refuse(key, endpoint, t))
    }
    const call: Call = {
      key,
      endpoint,
      input,
      init,
      method,
      signal,
      timeout,
      retry,
      deadline: timeout.total === false ? undefined : t + timeout.total,
      cloneInput: isRequest(input) && input.body !== null,
      replayable: !isOneShot(init?.body),
      attempts: 0,
      reached: false,
      everReached: false,
      failed: false,
      previous: undefined,
      waitUntil: callOptions?.waitUntil,
    }
    totals.requests++
    if (retry && endpoint.budget !== undefined) endpoint.budget.recordCall(t)
    return useFallback ? run(call, transport, url, callOptions?.waitUntil) : run(call, transport)
  }

  async function run(call: Call, transport: typeof fetch, url?: string, waitUntil?: CallOptions['waitUntil']): Promise<Response> {
    const endpoint = call.endpoint
    endpoint.calls++
    try {
      if (url === undefined) return await execute(call, transport)
      return await withFallback(call, transport, fallback!, url, waitUntil)
    } finally {
      endpoint.calls--
    }
  }

  /** The fallback stage: remember good responses, answer failures with the last good copy. */
  async function withFallback(
    call: Call,
    transport: typeof fetch,
    store: Fallback,
    url: string,
    waitUntil: CallOptions['waitUntil'],
  ): Promise<Response> {
    let request: FallbackRequest | undefined
    const describe = () =>
      (request ??= {
        method: 'GET',
        url: absolute(url),
        headers: new Headers(call.init?.headers ?? (isRequest(call.input) ? call.input.headers : undefined)),
        cache: call.init?.cache ?? (isRequest(call.input) ? call.input.cache : undefined),
      })
    // Noted at the start: a response to a call that started before rf.clear() is never stored.
    const epoch = store.epoch()
    let response: Response
    try {
      response = await execute(call, transport)
    } catch (error) {
      if (call.signal?.aborted) throw error
      const copy = await recall(call, store, describe())
      if (copy) return copy
      throw error
    }
    if (!call.failed) {
      if (response.status === 200) store.remember(describe(), response, waitUntil, { epoch })
      return response
    }
    let copy: Response | undefined
    try {
      copy = await recall(call, store, describe())
    } catch (error) {
      response.body?.cancel().catch(() => {})
      throw error
    }
    if (!copy) return response
    response.body?.cancel().catch(() => {})
    return copy
  }

  async function recall(call: Call, store: Fallback, request: FallbackRequest): Promise<Response | undefined> {
    // Bounded by the call's deadline and abort: a hung store never hangs the call.
    const found = await store.recall(request, { signal: call.signal, deadline: call.deadline })
    if (call.signal?.aborted) throw call.signal.reason
    if (!found) return undefined
    totals.fallbacks++
    events.emit('fallback', { key: call.key, age: Math.max(0, Math.floor((now() - found.storedAt) / 1000)) })
    tag(found.response, { source: 'fallback', key: call.key, attempts: call.attempts, storedAt: found.storedAt })
    return found.response
  }

  /** Retries: each attempt passes the bulkhead and breaker again; the call ends with its last real outcome. */
  async function execute(call: Call, transport: typeof fetch): Promise<Response> {
    const retry = call.retry
    const canRetry = retry !== false && retry.limit > 0 && retry.methods.has(call.method) && call.replayable
    let lastError: unknown
    let hasLastError = false
    for (let n = 1; ; n++) {
      let response: Response
      try {
        response = await attempt(call, transport)
      } catch (error) {
        if (call.signal?.aborted) {
          discardPrevious(call)
          throw call.signal.reason
        }
        if (!call.reached) {
          // Refused before the network: the call ends with the last real outcome, if it had one.
          if (call.previous !== undefined) return settle(call, call.previous, true)
          if (hasLastError) error = lastError
          count(call, false)
          throw error
        }
        const delay =
          canRetry && n <= retry.limit && !(error instanceof TimeoutError && error.scope === 'total')
            ? nextDelay(call, n, undefined)
            : undefined
        if (delay === undefined) {
          count(call, false)
          throw error
        }
        lastError = error
        hasLastError = true
        await wait(call, n, delay)
        continue
      }
      const delay =
        canRetry && n <= retry.limit && retry.statusCodes.has(response.status)
          ? nextDelay(call, n, response)
          : undefined
      if (delay === undefined) return settle(call, response, call.failed)
      hasLastError = false
      call.previous = response
      await wait(call, n, delay)
    }
  }

  /** The wait before retry `n`, or undefined when the call should not retry. */
  function nextDelay(call: Call, n: number, response: Response | undefined): number | undefined {
    const retry = call.retry as NormalizedRetry
    const t = now()
    let delay: number
    const retryAfter = response === undefined ? undefined : parseRetryAfter(response.headers.get('retry-after'), t)
    if (retryAfter !== undefined) {
      // A wait past any number (a Retry-After of hundreds of digits) is no retry, even with maxRetryAfter: Infinity.
      if (retryAfter > retry.maxRetryAfter || retryAfter === Infinity) return undefined
      delay = retryAfter
    } else {
      delay = backoffDelay(n, retry.backoff)
    }
    if (call.deadline !== undefined && t + delay >= call.deadline) return undefined
    if (retry.budget !== false && call.endpoint.budget !== undefined && !call.endpoint.budget.trySpend(t)) return undefined
    return delay
  }

  async function wait(call: Call, n: number, delay: number): Promise<void> {
    totals.retries++
    events.emit('retry', { key: call.key, attempt: n + 1, delay })
    try {
      await sleep(delay, call.signal)
    } catch (reason) {
      discardPrevious(call)
      throw reason
    }
  }

  function settle(call: Call, response: Response, failed: boolean): Response {
    call.failed = failed
    count(call, !failed)
    tag(response, { source: 'network', key: call.key, attempts: call.attempts })
    return response
  }

  function count(call: Call, success: boolean): void {
    if (success) totals.successes++
    else if (call.everReached) totals.failures++
    else totals.rejected++
  }

  /** One attempt: admitted, sent, judged when the headers arrive; whatever throws where, the lease is given back. */
  async function attempt(call: Call, transport: typeof fetch): Promise<Response> {
    call.reached = false
    const admitted = admit(call)
    // Synchronous unless the bulkhead queues or a probe lease is asked for: the request goes out in the caller's turn.
    const lease = admitted instanceof Promise ? await admitted : admitted
    try {
      return await send(call, transport, lease)
    } finally {
      free(call, lease)
    }
  }

  /** The total deadline, the breaker and the bulkhead, in that order; throws their refusal. */
  function admit(call: Call): Lease | Promise<Lease> {
    const { endpoint, key } = call
    const t = now()
    const deadline = call.deadline
    if (deadline !== undefined && t >= deadline) throw new TimeoutError(call.timeout.total as number, 'total')
    if (endpoint.breaker !== undefined && endpoint.breaker.refuses(t)) throw refuse(key, endpoint, t)
    const bulkhead = endpoint.bulkhead
    if (bulkhead === undefined || bulkhead.tryAcquire()) return admitBreaker(call, t)
    return bulkhead.acquire(call.signal, deadline === undefined ? Infinity : deadline - t, call.timeout.total as number).then(
      () => admitBreaker(call, now()),
      (error: unknown) => {
        if (error instanceof BulkheadRejectedError) events.emit('reject', { key, reason: 'bulkhead' })
        throw error
      },
    )
  }

  /** Takes the breaker's admission (in half-open, also the share's probe lease) once a permit is held. */
  function admitBreaker(call: Call, t: number): Lease | Promise<Lease> {
    const breaker = call.endpoint.breaker
    const lease: Lease = { t, token: REFUSED, permit: call.endpoint.bulkhead !== undefined, probe: false, slot: false }
    if (breaker === undefined) return lease
    try {
      lease.token = breaker.admit(t, call.timeout.attempt)
      if (lease.token === REFUSED) throw refuse(call.key, call.endpoint, t)
      lease.slot = true
      if (share?.acquireProbe !== undefined && breaker.probing(lease.token)) return acquireProbe(call, lease)
      return lease
    } catch (error) {
      free(call, lease)
      throw error
    }
  }

  /** One probe for all participants of the share, not one each; a share that fails lets it through. */
  async function acquireProbe(call: Call, lease: Lease): Promise<Lease> {
    const attemptTimeout = call.timeout.attempt
    let granted: boolean
    try {
      granted = await share!.acquireProbe!(call.key, attemptTimeout === false ? 30_000 : attemptTimeout, call.waitUntil)
    } catch {
      granted = true
    }
    lease.probe = granted
    if (granted) return lease
    free(call, lease)
    throw refuse(call.key, call.endpoint, lease.t)
  }

  /** Gives back the bulkhead permit and the share's probe lease, once: the transport has settled. */
  function releaseHeld(call: Call, lease: Lease): void {
    if (lease.permit) {
      lease.permit = false
      call.endpoint.bulkhead!.release()
    }
    if (lease.probe) {
      lease.probe = false
      share!.releaseProbe?.(call.key)
    }
  }

  /** Gives back everything the lease still holds, a breaker admission no outcome was recorded for included. */
  function free(call: Call, lease: Lease): void {
    releaseHeld(call, lease)
    if (lease.slot) {
      lease.slot = false
      call.endpoint.breaker!.release(lease.token)
    }
  }

  /** Sends one admitted attempt under one timer for whichever deadline comes first. */
  async function send(call: Call, transport: typeof fetch, lease: Lease): Promise<Response> {
    const input = call.cloneInput ? (call.input as Request).clone() : call.input
    call.reached = true
    call.everReached = true
    call.attempts++
    discardPrevious(call)
    const t = lease.t
    let ms: number | false = call.timeout.attempt
    let scope: 'attempt' | 'total' = 'attempt'
    if (call.deadline !== undefined && (ms === false || call.deadline - t < ms)) {
      ms = call.deadline - t
      scope = 'total'
    }
    const signal = call.signal
    let init = call.init
    let timer: ReturnType<typeof setTimeout> | undefined
    let timedOut: TimeoutError | undefined
    let unfollow: (() => void) | undefined
    let controller: AbortController | undefined
    if (ms !== false) {
      const ours = (controller = new AbortController())
      const limit = (scope === 'attempt' ? call.timeout.attempt : call.timeout.total) as number
      // Kept after the headers arrive: the caller's own signal still aborts the body.
      if (signal !== undefined) {
        unfollow = follow(signal, ours)
        // It may have aborted while the attempt waited for its permit or probe lease.
        if (signal.aborted) ours.abort(signal.reason)
      }
      init = init === undefined ? { signal: ours.signal } : { ...init, signal: ours.signal }
      timer = setTimeout(() => {
        // The caller's abort came first: the attempt ends as theirs, not ours.
        if (ours.signal.aborted) return
        timedOut = new TimeoutError(limit, scope)
        ours.abort(timedOut)
      }, ms)
    }
    let response: Response
    try {
      response = await transport(input, init)
    } catch (e) {
      clearTimeout(timer)
      unfollow?.()
      // Once our deadline fired the outcome is our timeout, whatever the transport rejects with (workerd: a plain Error).
      throw failed(call, lease, timedOut ?? e, timedOut)
    }
    clearTimeout(timer)
    if (unfollow !== undefined) keepWith(response, controller!)
    return answered(call, lease, response)
  }

  /** The transport rejected: a caller abort, fetch refusing the request, or a failure of the upstream. Returns what to throw. */
  function failed(call: Call, lease: Lease, error: unknown, timedOut: TimeoutError | undefined): unknown {
    const { key, signal } = call
    releaseHeld(call, lease)
    const end = now()
    const duration = end - lease.t
    // A user abort says nothing about the upstream (the lease's breaker admission is released, not judged).
    if (timedOut === undefined && signal?.aborted) return signal.reason
    if (timedOut === undefined && refusedByFetch(call, error)) {
      // fetch refused to build the request (bad method, GET with a body): the caller's mistake, not the upstream's.
      call.reached = false
      return error
    }
    if (timedOut !== undefined) {
      totals.timeouts++
      events.emit('timeout', { key, timeout: timedOut.timeout, scope: timedOut.scope })
    }
    const failure = customIsFailure ? Boolean(o.isFailure({ error, duration })) : true
    if (events.wants('failure')) events.emit('failure', { key, error, duration })
    record(call, lease, failure, duration, end)
    return error
  }

  /** The headers arrived: judge the response and tell the breaker. */
  function answered(call: Call, lease: Lease, response: Response): Response {
    const { key } = call
    const breaker = call.endpoint.breaker
    releaseHeld(call, lease)
    const end = now()
    const duration = end - lease.t
    const status = response.status
    const failure = customIsFailure ? Boolean(o.isFailure({ response, duration })) : status >= 500 || status === 408 || status === 429
    call.failed = failure
    if (failure) {
      if (events.wants('failure')) events.emit('failure', { key, status, duration })
    } else if (events.wants('success')) {
      events.emit('success', { key, status, duration })
    }
    if (breaker !== undefined) {
      // Taken before recording: a failure that trips the breaker must still be able to extend it.
      const current = breaker.holds(lease.token)
      record(call, lease, failure, duration, end)
      if (current && openOnRetryAfter && (status === 503 || status === 429)) {
        const retryAfter = parseRetryAfter(response.headers.get('retry-after'), end)
        if (retryAfter !== undefined && retryAfter > 0) breaker.openFor(Math.min(retryAfter, MAX_RETRY_AFTER_OPEN), end)
      }
    }
    return response
  }

  /** The outcome of an admitted attempt, for the breaker (which takes the lease's admission) and the share. */
  function record(call: Call, lease: Lease, failure: boolean, duration: number, end: number): void {
    const breaker = call.endpoint.breaker
    if (breaker === undefined) return
    lease.slot = false
    const slow = slowCall !== undefined && duration > slowCall.duration
    breaker.record(lease.token, failure, slow, end)
    if (share?.record !== undefined) share.record(call.key, failure, slow, call.waitUntil)
  }

  function refuse(key: string, endpoint: Endpoint, t: number): Error {
    events.emit('reject', { key, reason: 'open' })
    return circuitOpenError(key, endpoint.breaker!.retryAfter(t))
  }

  /** The endpoint of a key, or of the key a URL or Request maps to; one only the share knows yet is created. */
  function lookup(target: RequestInput): Endpoint | undefined {
    if (typeof target === 'string') {
      const found = registry.find(target) ?? sharedEndpoint(target)
      // A string that is not an absolute URL is a key, never resolved against the page.
      if (found !== undefined || !isAbsoluteUrl(target)) return found
    }
    const key = keyOf(target)
    return key === undefined ? undefined : (registry.find(key) ?? sharedEndpoint(key))
  }

  /** The key a call to `target` would use, or undefined when it has none (the key function throws). */
  function keyOf(target: RequestInput): string | undefined {
    try {
      if (o.key === undefined) return originOf(urlOf(target))
      const key = o.key(isRequest(target) ? target : new Request(target))
      return typeof key === 'string' ? key : undefined
    } catch {
      return undefined
    }
  }

  /** A key the share knows (open in another tab, or across the fleet), shown before any call here. */
  function sharedEndpoint(key: string): Endpoint | undefined {
    return share?.initial?.(key) === undefined ? undefined : registry.get(key)
  }

  function snapshot(): ResilienceSnapshot {
    const t = now()
    const breakers: ResilienceSnapshot['breakers'] = []
    const bulkheads: ResilienceSnapshot['bulkheads'] = []
    for (const endpoint of registry.values()) {
      if (endpoint.breaker) breakers.push(endpoint.breaker.snapshot(t))
      if (endpoint.bulkhead) bulkheads.push(endpoint.bulkhead.snapshot())
    }
    return { at: t, breakers, bulkheads, totals: { ...totals }, latencies: [] }
  }

  return Object.assign(rf, {
    snapshot,
    breaker: (target: RequestInput): BreakerControl | undefined => lookup(target)?.breaker,
    addEventListener: events.addEventListener.bind(events),
    removeEventListener: events.removeEventListener.bind(events),
    clear: (): Promise<void> => (fallback ? fallback.clear() : Promise.resolve()),
  }) as ResilientFetch
}

/** An upstream's Retry-After opens its breaker for at most an hour: a typo upstream must not silence a key for days. */
const MAX_RETRY_AFTER_OPEN = 3_600_000

function discardPrevious(call: Call): void {
  const previous = call.previous
  if (previous !== undefined) {
    call.previous = undefined
    previous.body?.cancel().catch(() => {})
  }
}

/** Whether fetch could not even build this request. Only asked after a failure: never on the hot path. */
function refusedByFetch(call: Call, error: unknown): boolean {
  if (!(error instanceof TypeError) || !call.replayable) return false
  try {
    new Request(call.cloneInput ? (call.input as Request).clone() : call.input, call.init)
    return false
  } catch {
    return true
  }
}

function isRequest(input: unknown): input is Request {
  return typeof input === 'object' && input !== null && !(input instanceof URL) && typeof (input as Request).url === 'string'
}

/** A body fetch can read only once: a ReadableStream, an async iterable (Node, Deno, Bun), a Node Readable. */
function isOneShot(body: unknown): boolean {
  if (typeof body !== 'object' || body === null) return false
  if (typeof ReadableStream !== 'undefined' && body instanceof ReadableStream) return true
  return Symbol.asyncIterator in body || typeof (body as { pipe?: unknown }).pipe === 'function'
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

function absolute(url: string): string {
  try {
    const u = new URL(url, baseUrl())
    u.hash = ''
    return u.href
  } catch {
    return url
  }
}

function checkCallOptions(value: unknown): CallOptions {
  if (typeof value !== 'object' || value === null) throw new TypeError(`resilience must be an object, got ${String(value)}`)
  for (const k of Object.keys(value)) {
    if (!CALL_OPTIONS.includes(k)) throw new TypeError(`resilience.${k} is not an option (known: ${CALL_OPTIONS.join(', ')})`)
  }
  const c = value as CallOptions
  if (c.key !== undefined && (typeof c.key !== 'string' || c.key === '')) throw new TypeError(`resilience.key must be a non-empty string, got ${JSON.stringify(c.key)}`)
  if (c.fallback !== undefined && typeof c.fallback !== 'boolean') throw new TypeError(`resilience.fallback must be a boolean, got ${JSON.stringify(c.fallback)}`)
  if (c.waitUntil !== undefined && typeof c.waitUntil !== 'function') throw new TypeError(`resilience.waitUntil must be a function, got ${typeof c.waitUntil}`)
  return c
}

function isAbsoluteUrl(value: string): boolean {
  try {
    new URL(value)
    return true
  } catch {
    return false
  }
}
