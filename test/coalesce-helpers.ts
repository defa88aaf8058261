import { createResilientFetch } from '../src/index.js'
import type { ResilientFetchOptions } from '../src/types.js'

/** A resilient fetch with coalescing on (fallback off unless given), its totals, and every event it fired. */
export function coalescingFetch(options: ResilientFetchOptions = {}) {
  const rf = createResilientFetch({ fallback: false, coalesce: true, ...options })
  const seen: { type: string; detail: unknown }[] = []
  for (const type of ['success', 'failure', 'reject', 'retry', 'timeout', 'fallback'] as const) {
    rf.addEventListener(type, (e) => seen.push({ type, detail: (e as CustomEvent).detail }))
  }
  return { rf, totals: () => rf.snapshot().totals, seen }
}
