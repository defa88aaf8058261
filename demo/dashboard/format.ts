/** Small pure formatters shared by the views. */
import type { BreakerState } from '../../src/types'

export const STATE_LABELS: Record<BreakerState, string> = {
  closed: 'Closed',
  open: 'Open',
  'half-open': 'Half-open',
  'forced-open': 'Forced open',
  disabled: 'Disabled',
}

export function percent(rate: number): string {
  return `${Math.round(rate * 100)}%`
}

/** "850 ms" below a second, "3.2 s" above. */
export function duration(ms: number): string {
  if (ms < 1_000) return `${Math.max(0, Math.round(ms))} ms`
  return `${(ms / 1_000).toFixed(1)} s`
}

/** Wall-clock time with milliseconds, local zone: 14:03:07.412 */
export function clockTime(at: number): string {
  const date = new Date(at)
  const pad = (n: number, width = 2) => String(n).padStart(width, '0')
  return `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}.${pad(date.getMilliseconds(), 3)}`
}

export function count(n: number | undefined): string {
  return n === undefined ? '—' : n.toLocaleString('en-US')
}

/** Creates an element with attributes and children; the views build their DOM once with it and then only update text. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attributes: Record<string, string> = {},
  ...children: (Node | string)[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag)
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, value)
  element.append(...children)
  return element
}
