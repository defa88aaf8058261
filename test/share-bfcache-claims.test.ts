/**
 * The probe claims (no Web Locks) a page kept for Back (the back/forward cache) heard before it left: a release sent
 * while it was away never reaches it, so restored it keeps only the claims storage still holds; where storage cannot
 * tell (none, or it throws), it keeps them all rather than probe beside a live claim. It keeps a heard claim only while
 * storage holds that very owner's claim, and the keys whose claims all went take no room in the bounded set.
 */
import { describe, expect, it, vi } from 'vitest'
import type { TabShare } from '../src/share/tabs.js'
import { flush } from './helpers.js'
import { memoryStorage, microtaskChannels, tabSuite } from './share-fakes.js'

const KEY = 'https://a.test'
const OTHER = 'https://b.test'
const T0 = 1_000_000
/** How long a claim without Web Locks waits to hear a rival (CLAIM_SETTLE_MS in src/share/lease.ts). */
const CLAIM_SETTLE = 100
/** Keys whose claims a tab remembers from the bus (MAX_CLAIMED_KEYS in src/share/lease.ts). */
const MAX_CLAIMED_KEYS = 1_000

const { tab } = tabSuite('bfcache-claims', T0)

/** Asks `share` for the probe of `key` and lets the claim settle. */
async function acquire(share: TabShare, key = KEY): Promise<boolean> {
  return (await acquireAll(share, key))[0]!
}

/** Asks `share` for the probes of `keys` at once and lets the claims settle: whether each was granted. */
async function acquireAll(share: TabShare, ...keys: string[]): Promise<boolean[]> {
  const granted = Promise.all(keys.map((key) => share.acquireProbe(key, 10_000)))
  await vi.advanceTimersByTimeAsync(CLAIM_SETTLE)
  return granted
}

/**
 * A page with a window of its own (the tabs made later have none) that heard `holder` claim `keys`, then went into the
 * back/forward cache: `restore()` brings it back.
 */
async function awayWhileClaimed(...keys: string[]): Promise<{ away: TabShare; holder: TabShare; restore: () => void }> {
  const window = new EventTarget()
  vi.stubGlobal('addEventListener', window.addEventListener.bind(window))
  vi.stubGlobal('removeEventListener', window.removeEventListener.bind(window))
  const away = tab()
  away.connect(() => {})
  vi.stubGlobal('addEventListener', undefined)
  const holder = tab()
  holder.connect(() => {})
  expect((await acquireAll(holder, ...keys)).every(Boolean)).toBe(true)
  await flush()
  const transition = (type: string) => window.dispatchEvent(Object.assign(new Event(type), { persisted: true }))
  transition('pagehide')
  return { away, holder, restore: () => transition('pageshow') }
}

describe('a page restored from the back/forward cache, without Web Locks', () => {
  it('drops a heard claim released while it was away: it probes at once', async () => {
    microtaskChannels()
    memoryStorage()
    const { away, holder, restore } = await awayWhileClaimed(KEY)
    holder.releaseProbe(KEY)
    await flush()
    restore()
    expect(await acquire(away)).toBe(true)
  })

  it('keeps a heard claim storage still holds: it does not probe beside it', async () => {
    microtaskChannels()
    memoryStorage()
    const { away, holder, restore } = await awayWhileClaimed(KEY, OTHER)
    holder.releaseProbe(OTHER)
    await flush()
    restore()
    expect(await acquire(away)).toBe(false)
    expect(await acquire(away, OTHER)).toBe(true)
  })

  it.each([
    ['a localStorage that throws (blocked)', () => memoryStorage().state],
    ['no localStorage', () => (vi.stubGlobal('localStorage', undefined), { broken: false })],
  ])('with %s, keeps the claims it heard: a live one is never probed beside', async (_, storage) => {
    microtaskChannels()
    const state = storage()
    const { away, restore } = await awayWhileClaimed(KEY)
    state.broken = true
    restore()
    expect(await acquire(away)).toBe(false)
  })

  it("drops a claim released while away though another tab's claim now holds the key: that tab's release frees the probe", async () => {
    microtaskChannels()
    memoryStorage()
    const { away, holder, restore } = await awayWhileClaimed(KEY)
    holder.releaseProbe(KEY)
    await flush()
    const other = tab()
    other.connect(() => {})
    expect(await acquire(other)).toBe(true)
    restore()
    other.releaseProbe(KEY)
    await flush()
    expect(await acquire(away)).toBe(true)
  })

  it('keeps hearing a claim storage still held: cleared from storage afterwards, it is still not probed beside', async () => {
    microtaskChannels()
    const { map } = memoryStorage()
    const { away, restore } = await awayWhileClaimed(KEY)
    restore()
    map.clear()
    expect(await acquire(away)).toBe(false)
  })

  it('the keys whose claims were all released while away take no room: a live claim is not pushed out by the next one heard', async () => {
    microtaskChannels()
    const { map } = memoryStorage()
    const released = Array.from({ length: MAX_CLAIMED_KEYS - 1 }, (_, i) => `https://r${i}.test`)
    const { away, holder, restore } = await awayWhileClaimed(KEY, ...released)
    for (const key of released) holder.releaseProbe(key)
    await flush()
    restore()
    expect(await acquire(holder, 'https://new.test')).toBe(true)
    await flush()
    map.clear()
    expect(await acquire(away)).toBe(false)
  })
})
