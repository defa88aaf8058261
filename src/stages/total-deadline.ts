import { TimeoutError } from '../errors.js'
import { refusal, type Call, type Next, type Outcome, type Refusal, type Stage } from './types.js'

/** The total deadline stage: both a wrapper (sets the call's deadline) and a gate (no attempt starts past it). */
export interface TotalDeadline extends Stage {
  run(call: Call, next: Next): Promise<Outcome>
  refuses(state: unknown, call: Call, t: number): Refusal | undefined
}

/**
 * The total deadline: the whole call (attempts, queue waits, waits between retries) ends by
 * `timeout.total`. It is kept where it is needed: the retry wrapper does not wait past it, the
 * bulkhead queue wait and the attempt deadline are cut to it, and no attempt starts after it.
 * Wherever it passes, it is a timeout: the pipeline reports a gate's refusal for it as the transport reports its own.
 */
export function totalDeadlineStage(): TotalDeadline {
  return {
    name: 'total deadline',
    run(call, next) {
      const total = call.timeout.total
      if (total !== false) call.deadline = call.at + total
      return next(call)
    },
    refuses(_state, call, t) {
      return t >= (call.deadline ?? Infinity) ? pastTotal(call) : undefined
    },
  }
}

/** The refusal of an attempt the call's total deadline cut before it reached the network (a gate's, or a wait's). */
export function pastTotal(call: Call): Refusal {
  return refusal('deadline', new TimeoutError(call.timeout.total as number, 'total'))
}

/** How long an attempt admitted at `t` may run (ms): to its attempt deadline, or the call's total one when that comes first; Infinity for neither. */
export function attemptBound(call: Call, t: number): number {
  return Math.min((call.deadline ?? Infinity) - t, call.timeout.attempt || Infinity)
}
