import type { Outcome } from './types.js'

/** Network errors, timeouts, 5xx, 408 and 429 are failures. User aborts never reach this function. */
export function isFailureDefault(outcome: Outcome): boolean {
  if (outcome.response === undefined) return true
  const status = outcome.response.status
  return status >= 500 || status === 408 || status === 429
}
