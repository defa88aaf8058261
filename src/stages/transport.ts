import type { NormalizedOptions } from '../options.js'
import type { Outcome as JudgedOutcome } from '../types.js'
import { isFailureDefault } from '../classify.js'
import { armDeadline, type ArmedDeadline } from './attempt-deadline.js'
import { aborted, isFailureStatus, refusal, type Attempt, type Call, type Outcome, type Runtime } from './types.js'
import type { Innermost } from './pipeline.js'

/**
 * The innermost stage: the attempt deadline, then the transport (the instance's `fetch`, else
 * `globalThis.fetch` looked up at call time). Turns what the transport did into an outcome judged
 * by the failure rule, and reports it (`success`, `failure`, `timeout` events).
 */
export function transportStage(options: NormalizedOptions, runtime: Runtime): Innermost {
  const { events, totals, now } = runtime
  const isFailure = options.isFailure === isFailureDefault ? undefined : options.isFailure

  function responded(attempt: Attempt, response: Response, duration: number): Outcome {
    const key = attempt.call.key
    const status = response.status
    const failure = isFailure === undefined ? isFailureStatus(status) : judge(isFailure, { response, duration })
    if (typeof failure !== 'boolean') return failure
    if (failure) {
      if (events.wants('failure')) events.emit('failure', { key, status, duration })
    } else if (events.wants('success')) {
      events.emit('success', { key, status, duration })
    }
    return { kind: 'response', response, failure, duration }
  }

  function failed(attempt: Attempt, error: unknown, armed: ArmedDeadline | undefined, duration: number): Outcome {
    const call = attempt.call
    const timedOut = armed?.timedOut
    // A caller abort says nothing about the upstream.
    if (timedOut === undefined && attempt.signal?.aborted) return aborted(attempt.signal.reason)
    // fetch refused to build the request (bad method, GET with a body): the caller's mistake, not the upstream's.
    if (timedOut === undefined && refusedByFetch(attempt, error)) return refusal('request', error)
    if (timedOut !== undefined) {
      error = timedOut
      totals.timeouts++
      events.emit('timeout', { key: call.key, timeout: timedOut.timeout, scope: timedOut.scope })
    }
    const failure = isFailure === undefined ? true : judge(isFailure, { error, duration })
    if (typeof failure !== 'boolean') return failure
    if (events.wants('failure')) events.emit('failure', { key: call.key, error, duration })
    return timedOut !== undefined ? { kind: 'timeout', error: timedOut, failure, duration } : { kind: 'error', error, failure, duration }
  }

  async function run(attempt: Attempt): Promise<Outcome> {
    const call = attempt.call
    call.attempts++
    const armed = armDeadline(attempt)
    const signal = attempt.signal
    const init = armed !== undefined ? armed.init : signal === call.signal ? call.init : { ...call.init, signal }
    const send = options.fetch ?? globalThis.fetch
    let response: Response | undefined
    let error: unknown
    try {
      response = await send(inputOf(call), init)
    } catch (e) {
      error = e
    }
    armed?.disarm(response)
    const duration = now() - attempt.start
    return response === undefined ? failed(attempt, error, armed, duration) : responded(attempt, response, duration)
  }

  return { names: ['attempt deadline', 'transport'], run }
}

/** The instance's isFailure; when it throws, the attempt ends as the caller's mistake. */
function judge(isFailure: (outcome: JudgedOutcome) => boolean, outcome: JudgedOutcome): boolean | Outcome {
  try {
    return Boolean(isFailure(outcome))
  } catch (error) {
    return refusal('request', error)
  }
}

/** A Request with a body is sent as a clone on each attempt: a body can be read once. */
function inputOf(call: Call): RequestInfo | URL {
  const input = call.input
  return isRequest(input) && input.body !== null ? input.clone() : input
}

/** Whether fetch could not even build this request. Only asked after a failure: never on the hot path. */
function refusedByFetch(attempt: Attempt, error: unknown): boolean {
  const init = attempt.call.init
  if (!(error instanceof TypeError) || isOneShot(init?.body)) return false
  try {
    new Request(inputOf(attempt.call), init)
    return false
  } catch {
    return true
  }
}

export function isRequest(input: unknown): input is Request {
  return typeof input === 'object' && input !== null && !(input instanceof URL) && typeof (input as Request).url === 'string'
}

/** A body fetch can read only once: a ReadableStream, an async iterable (Node, Deno, Bun), a Node Readable. Never retried nor hedged. */
export function isOneShot(body: unknown): boolean {
  if (typeof body !== 'object' || body === null) return false
  if (typeof ReadableStream !== 'undefined' && body instanceof ReadableStream) return true
  return Symbol.asyncIterator in body || typeof (body as { pipe?: unknown }).pipe === 'function'
}
