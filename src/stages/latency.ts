import { LATENCY_BUCKETS, LatencySummary } from '../latency.js'
import { reachedNetwork, type Call, type Gate } from './types.js'

/** The latency gate and how other stages (hedging) find a call's latency summary. */
export interface LatencyGate extends Gate<LatencySummary, true> {
  /** The summary of the call's key. */
  of(call: Call): LatencySummary | undefined
}

/**
 * Always on: records each attempt's duration to headers (or to its failure) in a bounded summary per
 * key, for `snapshot().latencies`, the Prometheus histogram and percentile hedge delays. Aborted
 * attempts (a caller's abort, a hedge that lost) and refusals are not recorded: they say nothing.
 */
export function latencyStage(): LatencyGate {
  // The summary's place among the key's states is the same for every call of an instance.
  let index = -1
  return {
    name: 'latency',
    forKey: (key) => new LatencySummary(key),
    report(summary, snapshot) {
      if (summary.count > 0) snapshot.latencies.push({ key: summary.key, ...summary.figures(), le: LATENCY_BUCKETS })
    },
    admit: () => true,
    settle(summary, _attempt, _ticket, outcome) {
      if (reachedNetwork(outcome)) summary.record(outcome.duration)
    },
    of(call) {
      if (index < 0) index = call.states.findIndex((state) => state instanceof LatencySummary)
      return call.states[index] as LatencySummary | undefined
    },
  }
}
