import { show } from './validate.js'
import type { Priority } from './stages/types.js'

export type { Priority }

export const HIGH: Priority = 0
export const NORMAL: Priority = 1
export const LOW: Priority = 2

/**
 * A call's priority: `resilience.priority` wins; else fetch's own `init.priority` ('high' → high,
 * 'low' → low); else normal.
 */
export function priorityOf(resilience: unknown, init: unknown): Priority {
  if (resilience !== undefined) {
    if (resilience === 'high') return HIGH
    if (resilience === 'low') return LOW
    if (resilience === 'normal') return NORMAL
    throw new TypeError(`resilience.priority must be 'high', 'normal' or 'low', got ${show(resilience)}`)
  }
  return init === 'high' ? HIGH : init === 'low' ? LOW : NORMAL
}
