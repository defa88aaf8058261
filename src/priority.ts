import { show } from './validate.js'

/** 0 high, 1 normal, 2 low: the bulkhead queue serves lower numbers first. */
export type Priority = 0 | 1 | 2

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
