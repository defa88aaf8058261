/** Reads a snapshot's per-key latency summaries, tolerating sources that do not report them (older proxies). */
import type { ResilienceSnapshot } from '../../src/types'
import type { LatencySummary } from './card'

interface LatencyEntry extends LatencySummary {
  key: string
}

export function latencyByKey(snapshot: ResilienceSnapshot): Map<string, LatencySummary> {
  const entries: unknown = (snapshot as { latencies?: unknown }).latencies
  const byKey = new Map<string, LatencySummary>()
  if (!Array.isArray(entries)) return byKey
  for (const entry of entries as Partial<LatencyEntry>[]) {
    if (typeof entry?.key !== 'string' || !isCount(entry.samples) || !isCount(entry.p50) || !isCount(entry.p99)) continue
    byKey.set(entry.key, { samples: entry.samples, p50: entry.p50, p99: entry.p99, ...(isCount(entry.count) ? { count: entry.count } : {}) })
  }
  return byKey
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0
}
