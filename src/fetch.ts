import type { BreakerControl, ResilienceSnapshot, ResilienceTotals, ResilientFetch, ResilientFetchOptions, ResilientRequestInit } from './types.js'
import { optionsSchema, type NormalizedOptions } from './options.js'
import { Events } from './events.js'
import { now } from './clock.js'
import { compose, type AnyStage } from './stages/pipeline.js'
import { Keys, type KeyEntry } from './stages/keys.js'
import { createCall, finish, keyOf } from './stages/call.js'
import { fallbackStage } from './stages/fallback.js'
import { totalDeadlineStage } from './stages/total-deadline.js'
import { retryStage } from './stages/retry.js'
import { bulkheadStage } from './stages/bulkhead.js'
import { breakerStage } from './stages/breaker.js'
import { transportStage } from './stages/transport.js'
import { latencyStage } from './stages/latency.js'
import { lazyCoalesceStage, lazyHedgeStage, lazyThrottleStage } from './stages/lazy.js'
import type { Call, Runtime } from './stages/types.js'

/** The chain of an instance, outer to inner. A new policy is a new file in src/stages/ and one line here. */
export function buildChain(o: NormalizedOptions, runtime: Runtime) {
  const fallback = fallbackStage(o.fallback, runtime)
  const breaker = breakerStage(o.breaker, o.share, runtime)
  const stages: (AnyStage | undefined)[] = [
    lazyCoalesceStage(o.coalesce, runtime),
    fallback,
    totalDeadlineStage(),
    retryStage(runtime),
    lazyHedgeStage(o.hedge, runtime),
    lazyThrottleStage(o.throttle, runtime),
    bulkheadStage(o.bulkhead, runtime),
    breaker,
    // Last: the hedge reads a key's latency summary as its last state (test/stages/order.test.ts holds it there).
    latencyStage(),
  ]
  return { chain: compose(stages, transportStage(o, runtime), runtime.now), fallback, breaker }
}

/** A fetch with the resilience stages around it, built once for the instance. */
export function createResilientFetch(options?: ResilientFetchOptions): ResilientFetch {
  const o = optionsSchema(options, '')
  const events = new Events()
  const totals: ResilienceTotals = { requests: 0, successes: 0, failures: 0, rejected: 0, timeouts: 0, retries: 0, fallbacks: 0, hedges: 0, throttled: 0, coalesced: 0 }
  // While rf runs a call synchronously, the time it read: the stages read it (its first attempt starts then), not the clock again.
  let calledAt: number | undefined
  const { chain, fallback, breaker } = buildChain(o, { now: () => calledAt ?? now(), totals, events })
  const keys = new Keys(chain.stages, o.maxKeys)
  const breakerOf = breaker?.attach(keys, chain.stages.indexOf(breaker), (target) => keyOf(target, o))

  // Not async: an open breaker refuses without entering the async pipeline, and fetch never throws synchronously.
  function rf(input: RequestInfo | URL, init?: ResilientRequestInit): Promise<Response> {
    try {
      const t = (calledAt = now())
      const call = createCall(input, init, o, keys, t)
      // Not a URL we can read: let the transport reject it exactly as fetch does.
      if (call === undefined) {
        // Without `resilience`, as the transport is always given init.
        const { resilience: _, ...rest } = init ?? {}
        return (o.fetch ?? globalThis.fetch)(input, init && rest)
      }
      totals.requests++
      const refused = chain.refusal(call, t)
      if (refused === undefined) return run(call, keys.get(call.key))
      totals.rejected++
      return Promise.reject(refused.error)
    } catch (error) {
      return Promise.reject(error)
    } finally {
      // Past its synchronous part (or a call the custom fetch made inside it), the clock is read again.
      calledAt = undefined
    }
  }

  /** The call through the chain, then ended as fetch ends: a promise chain, not an async frame (it allocates less per call). */
  function run(call: Call, entry: KeyEntry): Promise<Response> {
    entry.calls++
    const sent = chain.run(call).then(
      (outcome) => {
        entry.calls--
        return finish(call, outcome, totals)
      },
      (error: unknown) => {
        entry.calls--
        throw error
      },
    )
    // Past the turn the call started in: a first attempt still to come (a stage waited for its chunk) asks the gates again.
    call.checked = false
    return sent
  }

  return Object.assign(rf, {
    snapshot(): ResilienceSnapshot {
      const t = now()
      const snap: ResilienceSnapshot = { at: t, breakers: [], bulkheads: [], totals: { ...totals }, latencies: [] }
      for (const entry of keys.values()) chain.stages.forEach((stage, i) => stage.report?.(entry.states[i], snap, t))
      return snap
    },
    breaker: breakerOf ?? ((): BreakerControl | undefined => undefined),
    addEventListener: events.addEventListener.bind(events),
    removeEventListener: events.removeEventListener.bind(events),
    clear: async (): Promise<void> => fallback?.clear(),
  }) as ResilientFetch
}
