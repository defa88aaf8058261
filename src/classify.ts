import type { Outcome } from './types.js'

/** The default failure rule, written once: a status that says the upstream is in trouble or overloaded. */
export function isFailureStatus(status: number): boolean {
  return status >= 500 || status === 408 || status === 429
}

/** Network errors, timeouts, 5xx, 408 and 429 are failures. User aborts never reach this function. */
export function isFailureDefault(outcome: Outcome): boolean {
  return outcome.response === undefined || isFailureStatus(outcome.response.status)
}
