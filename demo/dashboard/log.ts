/** The state-change log: newest first, bounded. */
import type { BreakerState } from '../../src/types'
import { clockTime, h, STATE_LABELS } from './format'

const MAX_ENTRIES = 200

export class StateLog {
  constructor(readonly element: HTMLOListElement) {}

  add(entry: { key: string; from: BreakerState; to: BreakerState; at: number }): void {
    const item = h(
      'li',
      { 'data-key': entry.key, 'data-to': entry.to },
      h('time', { datetime: new Date(entry.at).toISOString() }, clockTime(entry.at)),
      ' ',
      h('code', {}, entry.key),
      ' ',
      h('span', { class: `pill pill-${entry.from}` }, STATE_LABELS[entry.from] ?? entry.from),
      ' → ',
      h('span', { class: `pill pill-${entry.to}` }, STATE_LABELS[entry.to] ?? entry.to),
    )
    this.element.prepend(item)
    while (this.element.childElementCount > MAX_ENTRIES) this.element.lastElementChild!.remove()
  }

  clear(): void {
    this.element.replaceChildren()
  }
}
