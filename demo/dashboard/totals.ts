/** The strip of instance-wide totals above the cards. */
import type { ResilienceTotals } from '../../src/types'
import { count, h } from './format'

/** Totals as a source reports them: an older proxy's lack the v1 counters (shown as a dash). */
type Totals = Partial<ResilienceTotals>

const LABELS: [keyof Totals, string, string][] = [
  ['requests', 'Requests', 'Calls made'],
  ['successes', 'Successes', 'Calls that ended with a good answer'],
  ['failures', 'Failures', 'Calls that ended with a failure'],
  ['rejected', 'Rejected', 'Calls refused by a breaker or a bulkhead'],
  ['timeouts', 'Timeouts', 'Attempts cut by a deadline'],
  ['retries', 'Retries', 'Attempts after the first'],
  ['fallbacks', 'Fallbacks', 'Calls answered with a last-known-good copy'],
  ['hedges', 'Hedges', 'Hedge attempts started after a slow first attempt'],
  ['throttled', 'Throttled', 'Calls shed locally by adaptive throttling'],
  ['coalesced', 'Coalesced', 'Calls that shared an identical in-flight request'],
]

export class TotalsView {
  private readonly values = new Map<keyof Totals, HTMLElement>()
  private readonly rate: HTMLElement

  constructor(readonly element: HTMLElement) {
    this.rate = h('dd', { 'data-total': 'rate' }, '—')
    element.append(h('div', { title: 'Calls per second over the last 5 s' }, h('dt', {}, 'Rate'), this.rate))
    for (const [name, label, title] of LABELS) {
      const value = h('dd', { 'data-total': name }, '—')
      this.values.set(name, value)
      element.append(h('div', { title }, h('dt', {}, label), value))
    }
  }

  /** `rate`: calls per second, where the view measures it. */
  update(totals: Totals | undefined, rate?: number): void {
    this.rate.textContent = rate === undefined ? '—' : `${rate.toFixed(1)} /s`
    for (const [name, element] of this.values) element.textContent = count(totals?.[name])
  }
}
