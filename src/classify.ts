import type { Outcome } from './types.js'
import { isFailureStatus } from './stages/types.js'

/** Network errors, timeouts, 5xx, 408 and 429 are failures (the rule is isFailureStatus). User aborts never reach this function. */
export function isFailureDefault(outcome: Outcome): boolean {
  return outcome.response === undefined || isFailureStatus(outcome.response.status)
}
