import { normalizeOptions } from '../src/options.js'
import type { ResilientFetchOptions, ResilientRequestInit } from '../src/types.js'
import { createCall, finish } from '../src/stages/call.js'
import type { Flights } from '../src/stages/coalesce.js'
import { lazyCoalesceStage } from '../src/stages/lazy.js'
import { Keys } from '../src/stages/keys.js'
import { compose } from '../src/stages/pipeline.js'
import { retryStage } from '../src/stages/retry.js'
import { totalDeadlineStage } from '../src/stages/total-deadline.js'
import { fallbackStage } from '../src/stages/fallback.js'
import { transportStage } from '../src/stages/transport.js'
import { bulkheadStage } from '../src/stages/bulkhead.js'
import { breakerStage } from '../src/stages/breaker.js'
import { testRuntime } from './stages/helpers.js'

/**
 * A resilient fetch with coalescing on, composed from the stages as fetch.ts composes them
 * (coalesce, fallback (off unless given), total deadline, retry, bulkhead, breaker, transport); `flights()` counts the
 * requests still in the in-flight maps.
 */
export function coalescingFetch(options: ResilientFetchOptions = {}, now: () => number = Date.now) {
  const o = normalizeOptions({ fallback: false, ...options })
  const { runtime, totals, seen } = testRuntime(now)
  const stages = [lazyCoalesceStage(true, runtime)!, fallbackStage(o.fallback, runtime), totalDeadlineStage(runtime), retryStage(o.retry, runtime), bulkheadStage(o.bulkhead, runtime), breakerStage(o.breaker, undefined, runtime)].filter((s) => s !== undefined)
  const keys = new Keys(stages, o.maxKeys)
  const chain = compose(stages, transportStage(o, runtime), runtime.now)
  const rf = async (input: RequestInfo | URL, init?: ResilientRequestInit): Promise<Response> => {
    const made = createCall(input, init, o, keys)!
    totals.requests++
    // As fetch.ts does: a gate's synchronous refusal, unless a wrapper may answer it.
    const refused = chain.refusal(made.call, now())
    return finish(made.call, refused ?? (await chain.run(made.call)), totals)
  }
  const flights = () => {
    let n = 0
    for (const entry of keys.values()) n += (entry.states[0] as { state?: Flights }).state?.size ?? 0
    return n
  }
  return { rf, totals, seen, flights }
}
