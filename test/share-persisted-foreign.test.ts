/**
 * What a tab reads back from localStorage is only what the share writes there: an open (or timed forced open) with an end.
 * A record of another kind under the share's prefix (another library version's, a damaged one) must not set a breaker's
 * state at start: a 'disabled' one would turn the breaker off for every reload until its far-off end.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { createResilientFetch } from '../src/index.js'
import { shareAcrossTabs, type TabShare } from '../src/share/tabs.js'
import { statusTransport } from './helpers.js'
import { memoryStorage } from './share-fakes.js'

const KEY = 'https://a.test'
const T0 = 1_000_000
let name: string
let run = 0
const tabs: TabShare[] = []

beforeEach(() => {
  vi.useFakeTimers({ now: T0 })
  name = `rf-foreign-${++run}`
  // Local only: what a tab starts from comes from storage alone.
  vi.stubGlobal('BroadcastChannel', undefined)
})
afterEach(() => {
  for (const share of tabs.splice(0)) share.close()
  vi.unstubAllGlobals()
  vi.useRealTimers()
})

function reload() {
  const share = shareAcrossTabs({ name })
  tabs.push(share)
  const rf = createResilientFetch({ fetch: statusTransport(500).fetch, share, retry: false, fallback: false, timeout: false, breaker: { window: 'consecutive', failureThreshold: 2 } })
  return { share, rf }
}

describe('a kept record the share never writes', () => {
  it.each(['disabled', 'closed'])('%s, with a far-off end: a reload starts closed, its breaker still opens, and the record is dropped', async (state) => {
    const { map } = memoryStorage()
    map.set(`${name}:breaker:${KEY}`, JSON.stringify({ state, at: T0, openedAt: T0, openUntil: 8.64e15 }))
    const { share, rf } = reload()
    expect(share.initial(KEY)).toBeUndefined()
    for (let i = 0; i < 2; i++) await rf(`${KEY}/x`)
    expect(rf.breaker(KEY)!.state).toBe('open')
    // What the share wrote for that open replaced the foreign record.
    expect(JSON.parse(map.get(`${name}:breaker:${KEY}`)!)).toMatchObject({ state: 'open' })
  })

  it('is dropped by the sweep when a tab connects, beside a real open that is kept', () => {
    const { map } = memoryStorage()
    map.set(`${name}:breaker:https://b.test`, JSON.stringify({ state: 'disabled', at: T0, openUntil: 8.64e15 }))
    map.set(`${name}:breaker:${KEY}`, JSON.stringify({ state: 'open', at: T0, openedAt: T0, openUntil: T0 + 5_000 }))
    const { share } = reload()
    share.connect(() => {})
    expect([...map.keys()]).toEqual([`${name}:breaker:${KEY}`])
    expect(share.initial(KEY)).toMatchObject({ state: 'open', openUntil: T0 + 5_000 })
  })
})
