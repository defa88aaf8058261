import type { Window } from './window.js'
import { ringWindow } from './time.js'

/** The last `size` attempts: a ring of one-attempt buckets numbered by attempt (so nothing ages with time). */
export function countWindow(size: number): Window {
  return ringWindow(size, (_t, recorded) => recorded)
}
