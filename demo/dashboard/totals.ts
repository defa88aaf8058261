/** The strip of instance-wide totals above the cards. */
import type { ResilienceTotals } from '../../src/types'
import { count, h } from './format'

const LABELS: [keyof ResilienceTotals, string][] = [
  ['requests', 'Requests'],
  ['successes', 'Successes'],
  ['failures', 'Failures'],
  ['rejected', 'Rejected'],
  ['timeouts', 'Timeouts'],
  ['retries', 'Retries'],
  ['fallbacks', 'Fallbacks'],
]

export class TotalsView {
  private readonly values = new Map<keyof ResilienceTotals, HTMLElement>()

  constructor(readonly element: HTMLElement) {
    for (const [name, label] of LABELS) {
      const value = h('dd', { 'data-total': name }, '—')
      this.values.set(name, value)
      element.append(h('div', {}, h('dt', {}, label), value))
    }
  }

  update(totals: ResilienceTotals | undefined): void {
    for (const [name, element] of this.values) element.textContent = count(totals?.[name])
  }
}
