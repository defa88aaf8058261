import { show } from './validate.js'
import type { Priority } from './stages/types.js'

export type { Priority }

export const HIGH: Priority = 0
export const NORMAL: Priority = 1
export const LOW: Priority = 2

/** The names of the priorities, by number. */
const NAMES = ['high', 'normal', 'low']

/**
 * A call's priority: `resilience.priority` wins; else fetch's own `init.priority` ('high' → high,
 * 'low' → low); else normal.
 */
export function priorityOf(resilience: unknown, init: unknown): Priority {
  const priority = NAMES.indexOf((resilience === undefined ? init : resilience) as string)
  // fetch's 'auto' (or anything else) is normal; so is 'normal', which fetch does not define.
  if (priority >= 0) return priority as Priority
  if (resilience === undefined) return NORMAL
  throw new TypeError(`resilience.priority must be 'high', 'normal' or 'low', got ${show(resilience)}`)
}
