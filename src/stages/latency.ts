import { LatencySummary } from '../latency.js'
import type { Gate } from './types.js'

/** The latency gate: innermost of every chain (buildChain puts it last), so a key's last state is its summary (the hedge reads it there). */
export type LatencyGate = Gate<LatencySummary, true>

/**
 * Always on: records each attempt's duration to response headers in a bounded summary per key, for
 * `snapshot().latencies`, the Prometheus histogram and percentile hedge delays. An attempt that got no
 * headers (a network error, a timeout, an abort, a refusal) is not recorded: a refused connection fails
 * in ~1 ms, and an outage's failures would set the percentile hedge delay near zero once the upstream is back.
 */
export function latencyStage(): LatencyGate {
  return {
    name: 'latency',
    forKey: (key) => new LatencySummary(key),
    report(summary, snapshot) {
      if (summary.count > 0) snapshot.latencies.push(summary.figures())
    },
    admit: () => true,
    settle(summary, _attempt, _ticket, outcome) {
      if (outcome.kind === 'response') summary.record(outcome.duration)
    },
  }
}
