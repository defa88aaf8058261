// @vitest-environment happy-dom
/**
 * A breaker card in a DOM: it says what its failure figure's window is, shows p50/p99 where the
 * snapshot reports latencies (and a dash where an older source does not), and can be marked stale.
 */
import { describe, expect, test } from 'vitest'
import type { BreakerSnapshot, ResilienceSnapshot } from '../../src/types'
import { BreakerCard, type CardModel } from '../../demo/dashboard/card'
import { latencyByKey } from '../../demo/dashboard/latency'

const breaker: BreakerSnapshot = { key: 'search', state: 'closed', calls: 7, failures: 2, slowCalls: 0, failureRate: 2 / 7, rejected: 1, transitions: 0 }

function model(extra: Partial<CardModel> = {}): CardModel {
  return { key: 'search', breaker, history: [], now: 0, ...extra }
}

const text = (card: BreakerCard, stat: string) => card.element.querySelector(`[data-stat="${stat}"]`)!.textContent

describe('breaker card', () => {
  test('the failure figure names its window and the attempts behind it', () => {
    const card = new BreakerCard('search', { window: 'last 10 s' })
    card.update(model())
    const figure = card.element.querySelector('[data-stat="failure-rate"]')!.closest('div')!
    expect(figure.querySelector('dt')!.textContent).toBe('Failed, last 10 s')
    expect(text(card, 'failure-rate')).toBe('29%')
    expect(text(card, 'window')).toBe('2 of 7 attempts')
  })

  test('p50 and p99 from the latencies, a dash without them', () => {
    const card = new BreakerCard('search', { window: 'last 10 s' })
    card.update(model())
    expect([text(card, 'p50'), text(card, 'p99')]).toEqual(['—', '—'])
    card.update(model({ latency: { samples: 40, p50: 82, p99: 1_510 } }))
    expect([text(card, 'p50'), text(card, 'p99')]).toEqual(['82 ms', '1.5 s'])
  })

  test('rate, calls and hedges where the view counts them; hidden where it cannot', () => {
    const card = new BreakerCard('search', { window: 'last 10 s' })
    card.update(model({ counters: { fallbacks: 3, retries: 2, hedges: 5 }, rate: { perSecond: 2.96, total: 1_234, of: 'calls' } }))
    expect([text(card, 'rate'), text(card, 'calls'), text(card, 'hedges')]).toEqual(['3.0 /s', '1,234', '5'])
    card.update(model())
    const cell = (stat: string) => card.element.querySelector(`[data-stat="${stat}"]`)!.closest('div')!
    expect([cell('hedges').hidden, cell('rate').hidden]).toEqual([true, true])
    // A proxy reports attempts per key, not calls: the card says which.
    card.update(model({ rate: { perSecond: undefined, total: 40, of: 'attempts' } }))
    expect(cell('rate').hidden).toBe(false)
    expect(cell('rate').querySelector('.sub')!.textContent).toBe('40 attempts')
    // The Worker view counts only the copies its proxy announces: that figure shows, the others stay hidden.
    card.update(model({ counters: { fallbacks: 2 } }))
    expect([cell('fallbacks').hidden, cell('retries').hidden, text(card, 'fallbacks')]).toEqual([false, true, '2'])
  })

  test('stale until the next update, with the reason shown in place of the probe line', () => {
    const card = new BreakerCard('search', { window: 'last 10 s' })
    card.update(model({ breaker: { ...breaker, state: 'open' }, nextProbeIn: 2_000 }))
    card.setStale('no updates since 14:03:07.000')
    expect(card.stale).toBe(true)
    expect(card.element.querySelector<HTMLElement>('[data-role="stale"]')!.hidden).toBe(false)
    expect(card.element.querySelector<HTMLElement>('[data-role="next-probe"]')!.hidden).toBe(true)
    card.update(model())
    expect(card.stale).toBe(false)
  })
})

describe('latencies of a snapshot', () => {
  const snapshot = (latencies?: unknown) => ({ at: 0, breakers: [], bulkheads: [], totals: {}, latencies }) as unknown as ResilienceSnapshot

  test('by key; absent (an older source) or malformed entries give nothing', () => {
    expect(latencyByKey(snapshot([{ key: 'a', samples: 3, p50: 10, p90: 20, p99: 30 }])).get('a')).toEqual({ samples: 3, p50: 10, p99: 30 })
    expect(latencyByKey(snapshot([{ key: 'a', samples: 3, p50: 10, p90: 20, p99: 30, count: 7 }])).get('a')!.count).toBe(7)
    expect(latencyByKey(snapshot()).size).toBe(0)
    expect(latencyByKey(snapshot([{ key: 'a', samples: 3, p50: 'x', p99: 30 }, null, { p50: 1 }])).size).toBe(0)
  })
})
