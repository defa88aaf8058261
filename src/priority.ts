import type { Priority } from './stages/types.js'

export type { Priority }

export const HIGH: Priority = 0
export const NORMAL: Priority = 1
export const LOW: Priority = 2

/** The names of the priorities, by number. */
const NAMES = ['high', 'normal', 'low']

/**
 * A call's priority: `resilience.priority` (already checked with the call's options) wins; else
 * fetch's own `init.priority` ('high' → high, 'low' → low; its 'auto' or anything else → normal).
 */
export function priorityOf(resilience: 'high' | 'normal' | 'low' | undefined, init: unknown): Priority {
  const priority = NAMES.indexOf((resilience ?? init) as string)
  return priority >= 0 ? (priority as Priority) : NORMAL
}
