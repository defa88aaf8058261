import type {
  BreakerControl,
  CallOptions,
  ResilienceSnapshot,
  ResilienceTotals,
  ResilientFetch,
  ResilientFetchOptions,
  ResilientRequestInit,
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
import { originOf, urlOf } from './url.js'
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
  const totals: ResilienceTotals = { requests: 0, successes: 0, failures: 0, rejected: 0, timeouts: 0, retries: 0, fallbacks: 0, hedges: 0, throttled: 0 }
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
    if (init !== undefined && init !== null && init.resilience !== undefined) {
      callOptions = checkCallOptions(init.resilience)
      const { resilience: _, ...rest } = init
      init = rest
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
    const canRetry = retry !== false && retry.limit > 0 && retry.methods.has(call.method) && !isStream(call.init?.body)
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
      if (retryAfter > retry.maxRetryAfter) return undefined
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

  /** One attempt: bulkhead, breaker, attempt deadline, transport; judged when the headers arrive. */
  async function attempt(call: Call, transport: typeof fetch): Promise<Response> {
    const { endpoint, key } = call
    const breaker = endpoint.breaker
    const bulkhead = endpoint.bulkhead
    call.reached = false
    let t = now()
    const deadline = call.deadline
    if (deadline !== undefined && t >= deadline) throw new TimeoutError(call.timeout.total as number, 'total')
    if (breaker !== undefined && breaker.refuses(t)) throw refuse(key, endpoint, t)
    if (bulkhead !== undefined && !bulkhead.tryAcquire()) {
      try {
        await bulkhead.acquire(call.signal, deadline === undefined ? Infinity : deadline - t, call.timeout.total as number)
      } catch (error) {
        if (error instanceof BulkheadRejectedError) events.emit('reject', { key, reason: 'bulkhead' })
        throw error
      }
      t = now()
    }
    const attemptTimeout = call.timeout.attempt
    let token = 0
    let probe = false
    if (breaker !== undefined) {
      token = breaker.admit(t, attemptTimeout)
      if (token !== REFUSED && share?.acquireProbe !== undefined && breaker.probing(token)) {
        // One probe for all participants of the share, not one each.
        probe = await share.acquireProbe(key, attemptTimeout === false ? 30_000 : attemptTimeout, call.waitUntil).catch(() => true)
        if (!probe) {
          breaker.release(token)
          token = REFUSED
        }
      }
      if (token === REFUSED) {
        bulkhead?.release()
        throw refuse(key, endpoint, t)
      }
    }
    call.reached = true
    call.everReached = true
    call.attempts++
    discardPrevious(call)

    // One timer for whichever deadline comes first.
    let ms: number | false = attemptTimeout
    let scope: 'attempt' | 'total' = 'attempt'
    if (deadline !== undefined && (ms === false || deadline - t < ms)) {
      ms = deadline - t
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
      const limit = scope === 'attempt' ? (attemptTimeout as number) : (call.timeout.total as number)
      timer = setTimeout(() => {
        // The caller's abort came first: the attempt ends as theirs, not ours.
        if (ours.signal.aborted) return
        timedOut = new TimeoutError(limit, scope)
        ours.abort(timedOut)
      }, ms)
      // Kept after the headers arrive: the caller's own signal still aborts the body.
      if (signal !== undefined) unfollow = follow(signal, ours)
      init = init === undefined ? { signal: ours.signal } : { ...init, signal: ours.signal }
    }
    const input = call.cloneInput ? (call.input as Request).clone() : call.input

    let response: Response | undefined
    let error: unknown
    try {
      response = await transport(input, init)
    } catch (e) {
      // Once our deadline fired the outcome is our timeout, whatever the transport rejects with (workerd: a plain Error).
      error = timedOut ?? e
    }
    clearTimeout(timer)
    bulkhead?.release()
    if (probe) share!.releaseProbe?.(key)
    const end = now()
    const duration = end - t
    if (response === undefined) {
      unfollow?.()
      if (timedOut === undefined && signal?.aborted) {
        // A user abort says nothing about the upstream.
        breaker?.release(token)
        throw signal.reason
      }
      if (timedOut === undefined && refusedByFetch(call, error)) {
        // fetch refused to build the request (bad method, GET with a body): the caller's mistake, not the upstream's.
        breaker?.release(token)
        call.reached = false
        throw error
      }
      if (timedOut !== undefined) {
        totals.timeouts++
        events.emit('timeout', { key, timeout: timedOut.timeout, scope: timedOut.scope })
      }
      let failure = true
      if (customIsFailure) failure = judge(breaker, token, { error, duration })
      if (events.wants('failure')) events.emit('failure', { key, error, duration })
      if (breaker !== undefined) record(call, breaker, token, failure, duration, end)
      throw error
    }
    if (unfollow !== undefined) keepWith(response, controller!)
    const status = response.status
    const failure = customIsFailure
      ? judge(breaker, token, { response, duration })
      : status >= 500 || status === 408 || status === 429
    call.failed = failure
    if (failure) {
      if (events.wants('failure')) events.emit('failure', { key, status, duration })
    } else if (events.wants('success')) {
      events.emit('success', { key, status, duration })
    }
    if (breaker !== undefined) {
      // Taken before recording: a failure that trips the breaker must still be able to extend it.
      const current = breaker.holds(token)
      record(call, breaker, token, failure, duration, end)
      if (current && openOnRetryAfter && (status === 503 || status === 429)) {
        const retryAfter = parseRetryAfter(response.headers.get('retry-after'), end)
        if (retryAfter !== undefined && retryAfter > 0) breaker.openFor(Math.min(retryAfter, MAX_RETRY_AFTER_OPEN), end)
      }
    }
    return response
  }

  function record(call: Call, breaker: NonNullable<Endpoint['breaker']>, token: number, failure: boolean, duration: number, end: number): void {
    const slow = slowCall !== undefined && duration > slowCall.duration
    breaker.record(token, failure, slow, end)
    if (share?.record !== undefined) share.record(call.key, failure, slow, call.waitUntil)
  }

  function judge(breaker: Endpoint['breaker'], token: number, outcome: { response?: Response; error?: unknown; duration: number }): boolean {
    try {
      return Boolean(o.isFailure(outcome))
    } catch (error) {
      breaker?.release(token)
      throw error
    }
  }

  function refuse(key: string, endpoint: Endpoint, t: number): Error {
    events.emit('reject', { key, reason: 'open' })
    return circuitOpenError(key, endpoint.breaker!.retryAfter(t))
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
    breaker: (key: string): BreakerControl | undefined => registry.find(key)?.breaker,
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
  if (!(error instanceof TypeError) || isStream(call.init?.body)) return false
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

function isStream(body: unknown): boolean {
  return typeof ReadableStream !== 'undefined' && body instanceof ReadableStream
}

function absolute(url: string): string {
  try {
    const u = new URL(url, (globalThis as { location?: { href: string } }).location?.href)
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
