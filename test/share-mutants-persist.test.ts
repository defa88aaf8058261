/**
 * What the tab share keeps in localStorage and what it takes from other tabs: what mutation testing of
 * src/share/persist.ts found unpinned. Local only (no BroadcastChannel) unless a test sends on one.
 */
import { beforeEach, describe, expect, it, vi } from 'vitest'
import type { SharedBreakerState } from '../src/index.js'
import { MAX_SKEW_MS } from '../src/share/persist.js'
import { flush } from './helpers.js'
import { memoryStorage, microtaskChannels, tabSuite } from './share-fakes.js'

const KEY = 'https://a.test'
const T0 = 1_000_000

const { tab, name: shareName } = tabSuite('persist', T0)

beforeEach(() => {
  vi.stubGlobal('BroadcastChannel', undefined)
})

describe('what the share keeps for reloads', () => {
  it('a timed forced open is kept, and a reload starts from it', () => {
    const { map } = memoryStorage()
    const state: SharedBreakerState = { state: 'forced-open', at: T0, openedAt: T0, openUntil: T0 + 5_000 }
    tab().publish(KEY, state)
    expect(JSON.parse(map.get(`${shareName()}:breaker:${KEY}`)!)).toEqual(state)
    expect(tab().initial(KEY)).toEqual(state)
  })

  it.each<SharedBreakerState>([
    { state: 'disabled', at: T0 + 1, openUntil: T0 + 5_000 },
    { state: 'closed', at: T0 + 1, openUntil: T0 + 5_000 },
  ])('a later $state, even with an end, replaces a kept open: the entry goes', (state) => {
    const { map } = memoryStorage()
    const share = tab()
    share.publish(KEY, { state: 'open', at: T0, openedAt: T0, openUntil: T0 + 5_000 })
    share.publish(KEY, state)
    expect(map.size).toBe(0)
  })

  it('a tab that starts drops a kept open whose window ends that very ms', () => {
    const { map } = memoryStorage()
    map.set(`${shareName()}:breaker:${KEY}`, JSON.stringify({ state: 'open', at: T0 - 10, openedAt: T0 - 10, openUntil: T0 }))
    map.set(`${shareName()}:breaker:https://b.test`, JSON.stringify({ state: 'open', at: T0 - 10, openedAt: T0 - 10, openUntil: T0 + 1 }))
    tab().connect(() => {})
    expect([...map.keys()]).toEqual([`${shareName()}:breaker:https://b.test`])
  })

  it('a localStorage with no getItem is no storage: the share keeps nothing and never throws', () => {
    vi.stubGlobal('localStorage', { setItem: vi.fn() })
    const share = tab()
    share.connect(() => {})
    share.publish(KEY, { state: 'open', at: T0, openedAt: T0, openUntil: T0 + 5_000 })
    expect((globalThis.localStorage.setItem as ReturnType<typeof vi.fn>)).not.toHaveBeenCalled()
  })
})

describe('what a tab takes from the others', () => {
  it.each<[string, object, boolean]>([
    ['dated as far ahead as tabs may skew', { state: 'disabled', at: T0 + MAX_SKEW_MS }, true],
    ['dated further ahead', { state: 'disabled', at: T0 + MAX_SKEW_MS + 1 }, false],
    ['opened as far ahead as tabs may skew', { state: 'forced-open', at: T0, openedAt: T0 + MAX_SKEW_MS, openUntil: T0 + 60_000 }, true],
    ['opened further ahead', { state: 'forced-open', at: T0, openedAt: T0 + MAX_SKEW_MS + 1, openUntil: T0 + 60_000 }, false],
    ['opened at a time that is not a number', { state: 'forced-open', at: T0, openedAt: '0', openUntil: T0 + 60_000 }, false],
    ['a forced open with no end', { state: 'forced-open', at: T0 }, true],
    ['a close with an end that is not a number', { state: 'closed', at: T0, openUntil: 'later' }, false],
    ['dated at a time that is not a number', { state: 'closed', at: 'now' }, false],
    ['of no known state', { state: 'ajar', at: T0 }, false],
  ])('a state %s: taken %s', async (_, state, taken) => {
    microtaskChannels()
    memoryStorage()
    const seen: string[] = []
    tab().connect((key) => seen.push(key))
    const raw = new BroadcastChannel(shareName())
    raw.postMessage({ t: 'state', from: 'x', key: KEY, state })
    raw.close()
    await flush()
    expect(seen).toEqual(taken ? [KEY] : [])
  })
})
