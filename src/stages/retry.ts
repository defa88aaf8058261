import type { NormalizedRetry } from '../options.js'
import { RetryBudget } from '../budget.js'
import { backoffDelay, parseRetryAfter, sleep } from '../retry.js'
import { aborted, discard, type Call, type Next, type Outcome, type Runtime, type Wrapper } from './types.js'

/**
 * The retry wrapper: retries failures and `statusCodes` of `methods`, after a backoff (or the
 * response's Retry-After), within the key's budget and the call's total deadline. A refusal is
 * never retried. The call ends with its last real outcome: a refused retry returns the response
 * (or error) of the attempt before it.
 */
export function retryStage(runtime: Runtime): Wrapper<RetryBudget | undefined> {
  const { now, totals, events } = runtime

  /** The wait before retry `n` after `outcome`, or undefined when the call should not retry. */
  function delayBefore(call: Call, retry: NormalizedRetry, n: number, outcome: Outcome, spend: RetryBudget | undefined): number | undefined {
    const response = outcome.kind === 'response' ? outcome.response : undefined
    if (n > retry.limit) return undefined
    // A response is retried for its status; a total timeout ends the call; an attempt timeout and a network error are retried.
    if (response ? !retry.statusCodes.has(response.status) : outcome.kind !== 'error' && (outcome.kind !== 'timeout' || outcome.error.scope !== 'attempt')) return undefined
    const t = now()
    const retryAfter = response && parseRetryAfter(response.headers.get('retry-after'), t)
    if (retryAfter !== undefined && retryAfter > retry.maxRetryAfter) return undefined
    const delay = retryAfter ?? backoffDelay(n, retry.backoff)
    // A wait past any number (a Retry-After of hundreds of digits, with maxRetryAfter: Infinity) ends past any deadline, none (Infinity) too: no retry.
    if (t + delay >= (call.deadline ?? Infinity) || (retry.budget && spend && !spend.trySpend(t, retry.budget))) return undefined
    return delay
  }

  /** Retries after `outcome` (attempt 1's), which may be retried after `delay`; resolves with the call's outcome. */
  async function retrying(call: Call, next: Next, retry: NormalizedRetry, spend: RetryBudget | undefined, outcome: Outcome, delay: number): Promise<Outcome> {
    for (let n = 1; ; n++) {
      // The last real outcome, kept (a response whole) until a later attempt reaches the network.
      const last = outcome
      events.emit('retry', { key: call.key, attempt: n + 1, delay })
      try {
        await sleep(delay, call.signal)
      } catch (reason) {
        discard(last)
        return aborted(reason)
      }
      const sent = call.attempts
      outcome = await next(call)
      // A retry counts once it reached the transport, as `call.attempts` counts: not one refused at a gate nor aborted before it.
      if (call.attempts > sent) totals.retries++
      // A refused retry ends the call with the retried outcome, which was not good enough.
      if (outcome.kind === 'refused') return last.kind === 'response' && !last.failure ? { ...last, failure: true } : last
      discard(last)
      const after = delayBefore(call, retry, n + 1, outcome, spend)
      if (after === undefined) return outcome
      delay = after
    }
  }

  return {
    name: 'retry',
    // Every key counts its calls: a call may bring a budget of its own where the instance has none.
    forKey: () => new RetryBudget(),
    run(call, next, spend) {
      const retry = call.retry
      // Every call counts toward the key's budget, one with retry: false too (as one with limit: 0 does), when it gets
      // here: a call made long before (a coalesced follower whose leader hung) recorded at call.at would empty a live bucket.
      spend?.recordCall(now())
      if (retry === false || retry.limit === 0 || !retry.methods.has(call.method) || call.oneShot) return next(call)
      // Attempt 1 as a promise reaction, not an async frame: most calls end with it.
      return next(call).then((outcome) => {
        const delay = delayBefore(call, retry, 1, outcome, spend)
        return delay === undefined ? outcome : retrying(call, next, retry, spend, outcome, delay)
      })
    },
  }
}

/** A retried response's body is cancelled once it is no longer the call's answer. */
