import { CALLS, FAILURES, SLOW, type Counts, type Window } from './window.js'

const BUCKETS = 10

/**
 * Attempts in a ring of `slots` buckets with running totals: recording costs the same however many
 * attempts the window holds. A bucket holds one epoch, `epochOf(t, recorded)` (`recorded` counts the
 * attempt being recorded); a bucket `slots` epochs behind the current one has left the window.
 */
export function ringWindow(slots: number, epochOf: (t: number, recorded: number) => number): Window {
  const counts: Counts = [0, 0, 0]
  // Per slot: its calls, failures and slow calls, as counts orders them.
  const buckets = new Uint32Array(slots * 3)
  const epochs = new Float64Array(slots).fill(-1)
  let recorded = 0

  function empty(slot: number, epoch: number): void {
    for (let k = 0; k < 3; k++) {
      counts[k] -= buckets[slot * 3 + k]!
      buckets[slot * 3 + k] = 0
    }
    epochs[slot] = epoch
  }
  function add(slot: number, k: number): void {
    buckets[slot * 3 + k]!++
    counts[k]!++
  }

  return {
    record(failure, slow, t) {
      const epoch = epochOf(t, ++recorded)
      // Not `epoch % slots`: epochs of whole seconds pass the small integers, and % on larger ones calls out to C.
      const slot = epoch - Math.floor(epoch / slots) * slots
      if (epochs[slot] !== epoch) empty(slot, epoch)
      add(slot, CALLS)
      if (failure) add(slot, FAILURES)
      if (slow) add(slot, SLOW)
    },
    counts(t) {
      const epoch = epochOf(t, recorded)
      for (let slot = 0; slot < slots; slot++) {
        const e = epochs[slot]!
        // Aged out, or from a future a clock step took back.
        if (e !== -1 && (e <= epoch - slots || e > epoch)) empty(slot, -1)
      }
      return counts
    },
    reset() {
      counts.fill(0)
      buckets.fill(0)
      epochs.fill(-1)
    },
  }
}

/** The attempts of the last `duration` ms, in ten buckets of a tenth each. */
export function timeWindow(duration: number): Window {
  const bucketMs = duration / BUCKETS
  return ringWindow(BUCKETS, (t) => Math.floor(t / bucketMs))
}
