import type { NormalizedRetry } from '../options.js'
import { RetryBudget, backoffDelay, parseRetryAfter, sleep } from '../retry.js'
import { isOneShot } from './transport.js'
import { aborted, type Call, type Next, type Outcome, type ResponseOutcome, type Runtime, type Wrapper } from './types.js'

/**
 * The retry wrapper: retries failures and `statusCodes` of `methods`, after a backoff (or the
 * response's Retry-After), within the key's budget and the call's total deadline. A refusal is
 * never retried. The call ends with its last real outcome: a refused retry returns the response
 * (or error) of the attempt before it.
 */
export function retryStage(instance: NormalizedRetry | false, runtime: Runtime): Wrapper<RetryBudget | undefined> {
  const { now, totals, events } = runtime
  const budget = instance && instance.budget ? instance.budget : undefined

  /** The wait before retry `n`, or undefined when the call should not retry. */
  function delayBefore(call: Call, retry: NormalizedRetry, n: number, outcome: Outcome, spend: RetryBudget | undefined): number | undefined {
    const t = now()
    const response = outcome.kind === 'response' ? outcome.response : undefined
    const retryAfter = response === undefined ? undefined : parseRetryAfter(response.headers.get('retry-after'), t)
    // A wait past any number (a Retry-After of hundreds of digits) is no retry, even with maxRetryAfter: Infinity.
    if (retryAfter !== undefined && (retryAfter > retry.maxRetryAfter || retryAfter === Infinity)) return undefined
    const delay = retryAfter ?? backoffDelay(n, retry.backoff)
    if (call.deadline !== undefined && t + delay >= call.deadline) return undefined
    if (retry.budget !== false && spend !== undefined && !spend.trySpend(t)) return undefined
    return delay
  }

  /** Whether outcome `n` may be retried at all (before the delay is worked out). */
  function retryable(retry: NormalizedRetry, n: number, outcome: Outcome): boolean {
    if (n > retry.limit) return false
    if (outcome.kind === 'response') return retry.statusCodes.has(outcome.response.status)
    // A total timeout ends the call; an attempt timeout and a network error are retried.
    return outcome.kind === 'error' || (outcome.kind === 'timeout' && outcome.error.scope === 'attempt')
  }

  async function attempts(call: Call, next: Next, retry: NormalizedRetry, spend: RetryBudget | undefined): Promise<Outcome> {
    // The last real outcome, kept (a response whole) until a later attempt reaches the network.
    let last: Outcome | undefined
    for (let n = 1; ; n++) {
      const outcome = await next(call)
      if (outcome.kind === 'aborted') return discard(last), outcome
      if (outcome.kind === 'refused') return last === undefined ? outcome : ended(last)
      discard(last)
      const delay = retryable(retry, n, outcome) ? delayBefore(call, retry, n, outcome, spend) : undefined
      if (delay === undefined) return outcome
      last = outcome
      totals.retries++
      events.emit('retry', { key: call.key, attempt: n + 1, delay })
      try {
        await sleep(delay, call.signal)
      } catch (reason) {
        discard(last)
        return aborted(reason)
      }
    }
  }

  return {
    name: 'retry',
    forKey: () => (budget === undefined ? undefined : new RetryBudget(budget)),
    run(call, next, spend) {
      const retry = call.retry
      if (retry === false) return next(call)
      spend?.recordCall(now())
      if (retry.limit === 0 || !retry.methods.has(call.method) || isOneShot(call.init?.body)) return next(call)
      return attempts(call, next, retry, spend)
    },
  }
}

/** The outcome a refused retry leaves the call with: the retried one, which was not good enough. */
function ended(last: Outcome): Outcome {
  return last.kind === 'response' && !last.failure ? { ...last, failure: true } : last
}

/** A retried response's body is cancelled once it is no longer the call's answer. */
function discard(outcome: Outcome | undefined): void {
  if (outcome?.kind === 'response') (outcome as ResponseOutcome).response.body?.cancel().catch(() => {})
}
