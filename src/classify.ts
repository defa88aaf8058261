import type { Outcome } from './types.js'

/** The default failure rule, written once: a status that says the upstream is in trouble or overloaded. */
export const isFailureStatus = (status: number): boolean => status >= 500 || status === 408 || status === 429

/** Network errors, timeouts, 5xx, 408 and 429 are failures. User aborts never reach this function. */
export const isFailureDefault = (outcome: Outcome): boolean => outcome.response === undefined || isFailureStatus(outcome.response.status)
