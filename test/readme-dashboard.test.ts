/**
 * README "The dashboard": the scenes it names are the page's, and what each scene says of itself is what its
 * traffic does (the slow tail's share of slow answers, their 1.5 s; every answer failing in the outage; none in
 * the healthy scene), and the cards' breaker window ("last 10 s in the simulation") is the demo instance's.
 */
import { describe, expect, it } from 'vitest'
import { ENDPOINTS, sceneFromQuery } from '../demo/dashboard/scenes'
import { DEMO_OPTIONS, DEMO_WINDOW } from '../demo/dashboard/sim-view'
import { SLOW_ANSWER_MS } from '../demo/dashboard/simulation'

const WORDS: Record<string, number> = { two: 2, three: 3, four: 4, five: 5, ten: 10, twenty: 20, fifty: 50, hundred: 100 }

describe('README: The dashboard', () => {
  it('opens on payments degrading while users, orders and search stay healthy', () => {
    const scene = sceneFromQuery('')
    expect(ENDPOINTS).toEqual(['users', 'orders', 'search', 'payments'])
    expect(scene.traffic('payments').errorRate).toBeGreaterThan(0)
    for (const name of ['users', 'orders', 'search']) expect(scene.traffic(name).errorRate).toBe(0)
  })

  it('?scene=slow-tail: its description names the share of slow answers its traffic has, each taking 1.5 s', () => {
    const scene = sceneFromQuery('?scene=slow-tail')
    expect(scene.id).toBe('slow-tail')
    const said = /one answer in (\w+) takes ([\d.]+) s/i.exec(scene.description)
    expect(said, scene.description).not.toBeNull()
    const oneIn = WORDS[said![1]!.toLowerCase()] ?? Number(said![1])
    for (const name of ENDPOINTS) expect(scene.traffic(name).slowShare, name).toBe(100 / oneIn)
    expect(Number(said![2]) * 1_000).toBe(SLOW_ANSWER_MS)
  })

  it('?scene=outage fails every answer of every endpoint; ?scene=healthy none', () => {
    for (const name of ENDPOINTS) {
      expect(sceneFromQuery('?scene=outage').traffic(name).errorRate).toBe(100)
      expect(sceneFromQuery('?scene=healthy').traffic(name)).toMatchObject({ errorRate: 0, slowShare: 0 })
    }
  })

  it("the cards' breaker window is the demo instance's: last 10 s", () => {
    expect(DEMO_OPTIONS.breaker).toMatchObject({ window: { type: 'time', duration: 10_000 } })
    expect(DEMO_WINDOW).toBe('last 10 s')
  })
})
