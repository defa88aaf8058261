import { TimeoutError } from '../errors.js'
import { follow, keepWith } from '../deadline.js'
import type { Attempt } from './types.js'

/**
 * The attempt deadline: one timer for whichever comes first, the attempt timeout or the call's
 * total deadline; it really aborts the request. The attempt's signal (the caller's, or a hedge's
 * own) still reaches the transport, and keeps reaching the body once the headers are in.
 */
export class ArmedDeadline {
  /** Set when our timer fired: the attempt's outcome is this timeout, whatever the transport rejects with. */
  timedOut: TimeoutError | undefined
  readonly init: RequestInit
  private readonly controller = new AbortController()
  private readonly timer: ReturnType<typeof setTimeout>
  private readonly unfollow: (() => void) | undefined

  constructor(attempt: Attempt, ms: number, limit: number, scope: 'attempt' | 'total') {
    const controller = this.controller
    this.timer = setTimeout(() => {
      // The caller's abort came first: the attempt ends as theirs, not ours.
      if (controller.signal.aborted) return
      this.timedOut = new TimeoutError(limit, scope)
      controller.abort(this.timedOut)
    }, ms)
    const signal = attempt.signal
    if (signal !== undefined) {
      this.unfollow = follow(signal, controller)
      // It may have aborted while the attempt waited for its permit or probe lease.
      if (signal.aborted) controller.abort(signal.reason)
    }
    const init = attempt.call.init
    this.init = init === undefined ? { signal: controller.signal } : { ...init, signal: controller.signal }
  }

  /** The transport settled: stop the timer; a response keeps our controller so the caller's abort still reaches its body. */
  disarm(response: Response | undefined): void {
    clearTimeout(this.timer)
    if (this.unfollow === undefined) return
    if (response === undefined) this.unfollow()
    else keepWith(response, this.controller)
  }
}

/** Arms the attempt's deadline, or returns undefined when neither the attempt nor the call has one. */
export function armDeadline(attempt: Attempt): ArmedDeadline | undefined {
  const call = attempt.call
  const attemptTimeout = call.timeout.attempt
  const deadline = call.deadline
  if (deadline !== undefined && (attemptTimeout === false || deadline - attempt.start < attemptTimeout)) {
    return new ArmedDeadline(attempt, deadline - attempt.start, call.timeout.total as number, 'total')
  }
  return attemptTimeout === false ? undefined : new ArmedDeadline(attempt, attemptTimeout, attemptTimeout, 'attempt')
}
