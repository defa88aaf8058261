import type { Outcome } from './types.js'

/**
 * The default failure rule, written once: a status that says the upstream is in trouble or overloaded, or an interim
 * one below 200 (workerd's fetch takes a 100, 102 or 103 for the final answer, which is then lost). `status % 101` is
 * 0 for the two that are answers: 0 (a browser's opaque response or redirect) and 101 (a WebSocket upgrade).
 */
export const isFailureStatus = (status: number): boolean => (status % 101 > 0 && status < 200) || status >= 500 || status === 408 || status === 429

/** Network errors, timeouts, 5xx, 408, 429 and interim statuses are failures. User aborts never reach this function. */
export const isFailureDefault = (outcome: Outcome): boolean => outcome.response === undefined || isFailureStatus(outcome.response.status)
