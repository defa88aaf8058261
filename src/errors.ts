/** Base of every error resilient-fetch raises itself; check `err.name`. */
export class ResilienceError extends Error {
  override name = 'ResilienceError'
}

/** The breaker refused the call: open, half-open with no probe slot, or forced open. */
export class CircuitOpenError extends ResilienceError {
  override name = 'CircuitOpenError'
  constructor(
    readonly key: string,
    /** ms until a probe may run (open), until the probe's attempt deadline (half-open), undefined (forced open with no end). */
    readonly retryAfter: number | undefined,
  ) {
    super(`circuit for ${key} is open`)
  }
}

/** The bulkhead refused the call: queue full, or it waited longer than queueTimeout. */
export class BulkheadRejectedError extends ResilienceError {
  override name = 'BulkheadRejectedError'
  constructor(
    readonly key: string,
    readonly active: number,
    readonly queued: number,
  ) {
    super(`bulkhead for ${key} is full (${active} active, ${queued} queued)`)
  }
}

/** An attempt or total deadline passed; the request was aborted. */
export class TimeoutError extends ResilienceError {
  override name = 'TimeoutError'
  constructor(
    readonly timeout: number,
    readonly scope: 'attempt' | 'total',
  ) {
    super(`${scope} deadline of ${timeout} ms passed`)
  }
}

type ErrorWithLimit = { stackTraceLimit?: number }

/** A CircuitOpenError without a captured stack: refusing fast is the breaker's whole point. */
export function circuitOpenError(key: string, retryAfter: number | undefined): CircuitOpenError {
  const E = Error as ErrorWithLimit
  const limit = E.stackTraceLimit
  E.stackTraceLimit = 0
  try {
    return new CircuitOpenError(key, retryAfter)
  } finally {
    E.stackTraceLimit = limit
  }
}
