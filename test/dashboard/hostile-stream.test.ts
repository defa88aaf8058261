// @vitest-environment happy-dom
/**
 * The Worker view draws what an /events stream sends, and `?events=<url>` lets a link pick that stream: its figures
 * may come from anyone. A breaker state is drawn into the sparkline's markup (innerHTML); one that is not a state
 * must never become markup of its own (an element, an event handler) on the proxy's origin.
 */
import { describe, expect, test } from 'vitest'
import type { BreakerState } from '../../src/types'
import { BreakerCard } from '../../demo/dashboard/card'
import type { Sample } from '../../demo/dashboard/history'

const HOSTILE = ['x"><img src=x onerror="window.__pwned=1">', 'open" onmouseover="window.__pwned=1', "open'/><script>window.__pwned=1</script>"] as unknown as BreakerState[]

describe('a hostile stream\'s breaker state in the sparkline', () => {
  test('never becomes an element or an attribute of its own; a band is drawn for the real states only', () => {
    const card = new BreakerCard('https://api.example.com', { window: 'breaker window' })
    for (const state of HOSTILE) {
      const history: Sample[] = [
        { at: 1_000, failureRate: 0.5, state },
        { at: 2_000, failureRate: 0.5, state: 'open' },
      ]
      card.update({ key: 'https://api.example.com', history, now: 3_000 })
      const spark = card.element.querySelector('.spark')!
      expect([...spark.querySelectorAll('*')].map((element) => element.tagName.toLowerCase()).sort(), String(state)).toEqual(['line', 'polyline', 'rect', 'svg'])
      for (const element of spark.querySelectorAll('*')) {
        for (const { name } of element.attributes) expect(name, String(state)).not.toMatch(/^on/i)
      }
      expect(spark.querySelector('rect')!.getAttribute('class')).toBe('band band-open')
    }
  })
})
