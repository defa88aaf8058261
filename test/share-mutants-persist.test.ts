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

  it('a forced open with no end is not written at all', () => {
    const { map } = memoryStorage()
    tab().publish(KEY, { state: 'forced-open', at: T0, openedAt: T0 })
    expect(map.size).toBe(0)
  })

  it('a kept open read once its window has ended, even in that very ms, is not started from and goes', () => {
    const { map } = memoryStorage()
    tab().publish(KEY, { state: 'open', at: T0, openedAt: T0, openUntil: T0 + 1000 })
    tab().publish('https://b.test', { state: 'open', at: T0, openedAt: T0, openUntil: T0 + 1001 })
    vi.setSystemTime(T0 + 1000)
    const later = tab()
    expect([later.initial(KEY), later.initial('https://b.test')?.openUntil]).toEqual([undefined, T0 + 1001])
    expect([...map.keys()]).toEqual([`${shareName()}:breaker:https://b.test`])
  })

  it.each([
    ['a disable', JSON.stringify({ state: 'disabled', at: T0 })],
    ['corrupt JSON', '{"state":'],
    ['null', 'null'],
  ])('%s where a kept state would be is not started from, and goes', (_, raw) => {
    const { map } = memoryStorage()
    map.set(`${shareName()}:breaker:${KEY}`, raw)
    expect(tab().initial(KEY)).toBeUndefined()
    expect(map.size).toBe(0)
  })

  it('reading a key with nothing kept removes nothing', () => {
    const changes: string[] = []
    memoryStorage((key) => changes.push(key))
    expect(tab().initial(KEY)).toBeUndefined()
    expect(changes).toEqual([])
  })

  it('without localStorage, a close is published and a page restored from the back/forward cache rejoins, never throwing', () => {
    microtaskChannels()
    // A window whose listeners' throws reach the test, as dispatchEvent would report them.
    const listeners = new Map<string, (event: object) => void>()
    vi.stubGlobal('addEventListener', (type: string, listener: (event: object) => void) => listeners.set(type, listener))
    vi.stubGlobal('removeEventListener', (type: string) => listeners.delete(type))
    const share = tab()
    share.connect(() => {})
    expect(() => share.publish(KEY, { state: 'closed', at: T0 })).not.toThrow()
    listeners.get('pagehide')!({ persisted: true })
    expect(() => listeners.get('pageshow')!({ persisted: true })).not.toThrow()
  })

  it('a page restored from the back/forward cache adopts no kept open whose window has ended', () => {
    vi.stubGlobal('BroadcastChannel', undefined)
    memoryStorage()
    const window = new EventTarget()
    vi.stubGlobal('addEventListener', window.addEventListener.bind(window))
    vi.stubGlobal('removeEventListener', window.removeEventListener.bind(window))
    const seen: string[] = []
    const share = tab()
    share.connect((key) => seen.push(key))
    window.dispatchEvent(Object.assign(new Event('pagehide'), { persisted: true }))
    vi.stubGlobal('addEventListener', undefined)
    tab().publish(KEY, { state: 'open', at: T0, openedAt: T0, openUntil: T0 + 1000 })
    vi.setSystemTime(T0 + 1000)
    window.dispatchEvent(Object.assign(new Event('pageshow'), { persisted: true }))
    expect(seen).toEqual([])
  })

  it('a localStorage that is null is no storage: without a channel, a probe is granted at once', async () => {
    vi.stubGlobal('localStorage', null)
    const share = tab()
    share.connect(() => {})
    let granted: boolean | undefined
    void share.acquireProbe(KEY, 1000).then((g) => (granted = g))
    await flush()
    expect(granted).toBe(true)
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
  it.each<[string, object | null, boolean]>([
    ['dated as far ahead as tabs may skew', { state: 'disabled', at: T0 + MAX_SKEW_MS }, true],
    ['dated further ahead', { state: 'disabled', at: T0 + MAX_SKEW_MS + 1 }, false],
    ['opened as far ahead as tabs may skew', { state: 'forced-open', at: T0, openedAt: T0 + MAX_SKEW_MS, openUntil: T0 + 60_000 }, true],
    ['opened further ahead', { state: 'forced-open', at: T0, openedAt: T0 + MAX_SKEW_MS + 1, openUntil: T0 + 60_000 }, false],
    ['opened at a time that is not a number', { state: 'forced-open', at: T0, openedAt: '0', openUntil: T0 + 60_000 }, false],
    ['a forced open with no end', { state: 'forced-open', at: T0 }, true],
    ['a close with an end that is not a number', { state: 'closed', at: T0, openUntil: 'later' }, false],
    ['dated at a time that is not a number', { state: 'closed', at: 'now' }, false],
    ['of no known state', { state: 'ajar', at: T0 }, false],
    ['half-open (no tab of this share sends one, but it is a state)', { state: 'half-open', at: T0 }, true],
    ['an open with no end', { state: 'open', at: T0, openedAt: T0 }, false],
    ['a forced open ending at Infinity', { state: 'forced-open', at: T0, openedAt: T0, openUntil: Infinity }, false],
    ['that is null', null, false],
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
