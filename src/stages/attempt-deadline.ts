import { TimeoutError } from '../errors.js'
import { follow, keepWith } from '../deadline.js'
import type { Attempt } from './types.js'

/**
 * The attempt deadline: one timer for whichever comes first, the attempt timeout or the call's
 * total deadline; it really aborts the request. The attempt's signal (the caller's, or a hedge's
 * own) still reaches the transport, and keeps reaching the body once the headers are in. A hedged
 * attempt's own controller is aborted directly: no second controller follows it.
 */
export class ArmedDeadline {
  /** Set when our timer fired: the attempt's outcome is this timeout, whatever the transport rejects with. */
  timedOut: TimeoutError | undefined
  /** The call's init with the signal our timer aborts. */
  readonly init: RequestInit
  #controller: AbortController
  #timer: ReturnType<typeof setTimeout>
  /** Set when our controller follows the caller's signal (not a hedge's own controller). */
  #unfollow: (() => void) | undefined

  constructor(attempt: Attempt, ms: number, limit: number, scope: 'attempt' | 'total') {
    const { signal, controller: own } = attempt
    const controller = (this.#controller = own ?? new AbortController())
    this.#timer = setTimeout(() => {
      // The caller's abort (or a lost hedge's) came first: the attempt ends as theirs, not ours.
      if (!controller.signal.aborted) controller.abort((this.timedOut = new TimeoutError(limit, scope)))
    }, ms)
    if (own === undefined && signal !== undefined) {
      this.#unfollow = follow(signal, controller)
      // It may have aborted while the attempt waited for its permit or probe lease.
      if (signal.aborted) controller.abort(signal.reason)
    }
    const init = attempt.call.init
    this.init = init === undefined ? { signal: controller.signal } : { ...init, signal: controller.signal }
  }

  /** The transport settled: stop the timer; a response keeps our controller so the caller's abort still reaches its body. */
  disarm(response: Response | undefined): void {
    clearTimeout(this.#timer)
    if (this.#unfollow === undefined) return
    if (response === undefined) this.#unfollow()
    else keepWith(response, this.#controller)
  }
}

/** Arms the attempt's deadline, or returns undefined when neither the attempt nor the call has one. */
export function armDeadline(attempt: Attempt): ArmedDeadline | undefined {
  const { timeout, deadline } = attempt.call
  const left = deadline === undefined ? Infinity : deadline - attempt.start
  if (timeout.attempt === false ? left < Infinity : left < timeout.attempt) return new ArmedDeadline(attempt, left, timeout.total as number, 'total')
  return timeout.attempt === false ? undefined : new ArmedDeadline(attempt, timeout.attempt, timeout.attempt, 'attempt')
}
