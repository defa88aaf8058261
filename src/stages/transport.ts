import type { NormalizedOptions } from '../options.js'
import { isFailureDefault } from '../classify.js'
import { isRequest } from '../url.js'
import { TimeoutError } from '../errors.js'
import { within } from '../within.js'
import { follow, keepWith } from '../deadline.js'
import { Lane, sharesTimers, type LaneEntry } from '../timers.js'
import { aborted, isFailureStatus, refusal, type Attempt, type Call, type Outcome, type Runtime } from './types.js'
import type { Innermost } from './pipeline.js'
import { attemptBound } from './total-deadline.js'

/**
 * The innermost stage: the attempt deadline, then the transport (the instance's `fetch`, else
 * `globalThis.fetch` looked up at call time). Turns what the transport did into an outcome judged
 * by the failure rule, and reports it (`success`, `failure`, `timeout` events).
 */
export function transportStage(options: NormalizedOptions, { events, totals, now }: Runtime, shared = sharesTimers()): Innermost {
  // Where host timers are dear (browsers), the instance's attempt deadlines share one (src/timers.ts).
  const lane = shared && options.timeout.attempt !== false ? new Lane(options.timeout.attempt) : undefined
  const isFailure = options.isFailure === isFailureDefault ? undefined : options.isFailure

  /** Counts and reports a deadline that ended an attempt: here, or at a gate before it (the pipeline passes those to `timeout`). */
  function reportTimeout(key: string, error: TimeoutError): void {
    totals.timeouts++
    events.emit('timeout', { key, timeout: error.timeout, scope: error.scope })
  }

  /** What the transport did, as an outcome judged by the failure rule and reported. */
  function judged({ call, signal }: Attempt, response: Response | undefined, error: unknown, timedOut: TimeoutError | undefined, duration: number): Outcome {
    const key = call.key
    if (response == null) {
      if (timedOut !== undefined) {
        error = timedOut
        reportTimeout(key, timedOut)
      } else if (signal?.aborted) {
        // A caller abort says nothing about the upstream.
        return aborted(signal.reason)
      } else if (refusedByFetch(call, error)) {
        // fetch refused to build the request (bad method, GET with a body): the caller's mistake, not the upstream's.
        return refusal('request', error)
      }
    }
    // An isFailure that throws ends the attempt as the caller's mistake (`ended` catches it). It never judges a redirect refused for redirect: 'error': the upstream answered.
    const failure = isFailure === undefined ? !response || isFailureStatus(response.status) : !(response && refusedRedirect(call, response)) && Boolean(isFailure(response ? { response, duration } : { error, duration }))
    // A network error is reported as a failure even when isFailure forgives it.
    const type = failure || !response ? 'failure' : 'success'
    if (events.wants(type)) events.emit(type, response ? { key, status: response.status, duration } : { key, error, duration })
    return response ? { kind: 'response', response, failure, duration } : { kind: timedOut ? 'timeout' : 'error', error: error as TimeoutError, failure, duration }
  }

  /**
   * The attempt deadline (one timer for the attempt timeout or the call's total deadline, whichever comes first; it
   * aborts the request), then the transport. The attempt's signal (the caller's, or a hedge's own, aborted directly)
   * reaches the transport and then the body. Ends the attempt itself (`attempt.end`): one async frame, never rejects.
   */
  function run(attempt: Attempt): Promise<Outcome> {
    const { call, signal, start, controller: own } = attempt
    const { timeout } = call
    // Infinity: no deadline at all. No attempt deadline (false) is Infinity.
    const ms = attemptBound(call, start)
    const byTotal = ms < (timeout.attempt || Infinity)
    let timer: ReturnType<typeof setTimeout> | undefined
    let entry: LaneEntry | undefined
    let timedOut: TimeoutError | undefined
    let controller: AbortController | undefined
    let unfollow: (() => void) | undefined
    /** What the transport did, judged; the attempt ends with it. */
    const ended = (response: Response | undefined, error?: unknown): Outcome => {
      let outcome: Outcome
      try {
        if (entry) lane!.disarm(entry)
        else clearTimeout(timer)
        // A response keeps our controller, so the caller's abort still reaches its body.
        if (unfollow) {
          if (response == null) unfollow()
          else keepWith(response, controller!)
        }
        outcome = judged(attempt, response, error, timedOut, (attempt.endedAt = now()) - start)
      } catch (thrown) {
        // Something threw where it should have answered (a custom fetch resolving with no Response, an isFailure that throws): the caller's mistake; nobody will read the body.
        outcome = refusal('request', thrown)
        response?.body?.cancel().catch(() => {})
      }
      return attempt.end ? attempt.end(outcome) : outcome
    }
    let sent: Promise<Response>
    try {
      call.attempts++
      let init = initOf(call)
      if (ms < Infinity) {
        controller = own ?? new AbortController() // the function's own variable: a captured const of this block costs a context per attempt
        const fire = () => {
          // The caller's abort (or a lost hedge's) came first: the attempt ends as theirs, not ours.
          if (!controller!.signal.aborted) controller!.abort((timedOut = new TimeoutError(byTotal ? (timeout.total as number) : ms, byTotal ? 'total' : 'attempt')))
        }
        if (lane !== undefined && ms === lane.ms) entry = lane.arm(fire)
        else timer = setTimeout(fire, ms)
        // It may have aborted while the attempt waited for its permit or probe lease: follow() aborts it at once then.
        if (!own && signal) unfollow = follow(signal, controller)
      }
      const sends = controller?.signal ?? signal
      if (sends !== call.signal) init = { ...init, signal: sends }
      sent = Promise.resolve(isAlone(call) ? alone(call, options.fetch, controller?.signal) : (options.fetch ?? globalThis.fetch)(inputOf(call), init))
    } catch (error) {
      sent = Promise.reject(error)
    }
    // A promise reaction rather than an async frame: it allocates less per attempt. Never rejects.
    return sent.then(ended, (error: unknown) => ended(undefined, error))
  }

  return { names: ['attempt deadline', 'transport'], run, ends: true, timeout: reportTimeout }
}

/** The call's redirect mode: init's, else the Request's (a string or a URL has none). */
const redirectOf = ({ init, input }: Call) => init?.redirect ?? (input as Request).redirect

/**
 * The init the transport is given. A Request keeps its referrer and referrer policy: fetch(request, init) with any init
 * resets them, and an attempt goes with an init of ours (its signal), so a Referer the app turned off would be sent.
 * redirect: 'error' is sent as 'manual': a redirect is then an answer the breaker sees, not a network error to retry;
 * finish() rejects as fetch would. Only where the runtime takes 'error' (workerd's fetch refuses it: then so does the call).
 */
function initOf(call: Call): RequestInit | undefined {
  const { input } = call
  const init = isRequest(input) ? { referrer: input.referrer, referrerPolicy: input.referrerPolicy, ...call.init } : call.init
  if (redirectOf(call) === 'error')
    try {
      new Request('http://a', { redirect: 'error' })
      return { ...init, redirect: 'manual' }
    } catch {}
  return init
}

/** Whether `response` is a redirect that a call with redirect: 'error' refuses: a redirect status (with a Location or not, as fetch), or a browser's opaque redirect. */
export function refusedRedirect(call: Call, response: Response): boolean {
  return redirectOf(call) === 'error' && (response.type === 'opaqueredirect' || /30[12378]/.test('' + response.status))
}

/**
 * A navigation (a Service Worker's `event.request`) with no init of the caller's is sent as it is, as
 * fetch(event.request) sends it: with any init (ours carries the attempt's signal) fetch makes it mode 'same-origin'
 * (Sec-Fetch-Mode and Sec-Fetch-Dest change) and puts the worker's URL in place of another site's Referer.
 */
export const isAlone = ({ input, init }: Call) => (input as Request).mode === 'navigate' && !Object.keys(init ?? {}).length

/**
 * The navigation sent with no init, settled early by `signal`'s abort (a deadline, the caller's): a response that comes
 * later is cancelled. Not sent once `signal` aborted (the caller's, while the attempt waited at a gate), as fetch would not.
 */
const alone = (call: Call, fetch = globalThis.fetch, signal?: AbortSignal): Promise<Response> => {
  if (signal?.aborted) return Promise.reject(signal.reason)
  const sent = Promise.resolve(fetch(inputOf(call)))
  // Raced with the abort; a response that comes after it is nobody's.
  return signal ? within(sent.then((response) => (signal.aborted && void response.body?.cancel().catch(() => {}), response)), undefined, '', signal) : sent
}

/** A Request with a body is sent as a clone on each attempt: a body can be read once. */
function inputOf({ input }: Call): RequestInfo | URL {
  return isRequest(input) && input.body !== null ? input.clone() : input
}

/** Whether fetch could not even build this request; throws where a custom fetch gave no Response. Only asked after a failure: never on the hot path. */
function refusedByFetch(call: Call, error: unknown): boolean {
  // A custom fetch that gave no Response (resolved with none: a forgotten return) or rejected with no reason: the caller's
  // mistake (`ended` refuses the attempt with this), never the upstream's failure, nor a rejection without a reason.
  if (error === undefined) throw new TypeError('fetch gave no Response')
  if (!(error instanceof TypeError) || isOneShot(call.init?.body)) return false
  try {
    // Without the signal: a Request follows the one it is given (a listener on it until the Request is collected).
    new Request(inputOf(call), { ...call.init, signal: null })
    return false
  } catch {
    return true
  }
}

/** A body fetch can read only once: a ReadableStream, an async iterable (Node, Deno, Bun), a Node Readable. Never retried nor hedged. */
export function isOneShot(body: unknown): boolean {
  if (typeof body !== 'object' || body === null) return false
  if (typeof ReadableStream !== 'undefined' && body instanceof ReadableStream) return true
  return Symbol.asyncIterator in body || typeof (body as { pipe?: unknown }).pipe === 'function'
}
