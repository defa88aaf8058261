import { afterEach, beforeEach, vi } from 'vitest'
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

/** For each test of the calling file: fake time from 1 000 000 ms, and a workerd `navigator` (the hand-over's runtime). */
export function inWorkerdWithFakeTime(): void {
  beforeEach(() => {
    vi.useFakeTimers({ now: 1_000_000 })
    vi.stubGlobal('navigator', { userAgent: 'Cloudflare-Workers' })
  })
  afterEach(() => {
    vi.unstubAllGlobals()
    vi.useRealTimers()
  })
}
