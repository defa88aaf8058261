import { CALLS, FAILURES, SLOW, type Counts, type Window } from './window.js'

/** Counts the current run of failures (and of slow attempts); a good attempt ends the run. */
export function consecutiveWindow(): Window {
  const counts: Counts = [0, 0, 0]
  return {
    counts: () => counts,
    record(failure, slow) {
      counts[FAILURES] = failure ? counts[FAILURES]! + 1 : 0
      counts[SLOW] = slow ? counts[SLOW]! + 1 : 0
      counts[CALLS] = Math.max(counts[FAILURES], counts[SLOW])
    },
    reset: () => void counts.fill(0),
  }
}
