/**
 * ProbeLease.rejoined() (src/share/lease.ts), where test/share-bfcache-claims.test.ts left it open (found by mutation
 * testing): restored from the back/forward cache without Web Locks, a page keeps a heard claim only while storage holds
 * that very owner's claim. One released while away is dropped even when another tab's claim has replaced it in storage
 * (so that tab's release frees the probe at once); one storage still holds stays heard (so a live claim is not probed
 * beside when storage is cleared afterwards); the keys whose claims all went leave no room taken in the bounded set.
 */
import { describe, expect, it, vi } from 'vitest'
import type { TabShare } from '../src/share/tabs.js'
import { flush } from './helpers.js'
import { memoryStorage, microtaskChannels, tabSuite } from './share-fakes.js'

const KEY = 'https://a.test'
const T0 = 1_000_000
/** How long a claim without Web Locks waits to hear a rival (CLAIM_SETTLE_MS in src/share/lease.ts). */
const CLAIM_SETTLE = 100
/** Keys whose claims a tab remembers from the bus (MAX_CLAIMED_KEYS in src/share/lease.ts). */
const MAX_CLAIMED_KEYS = 1_000

const { tab } = tabSuite('mutants-rejoin', T0)

/** Asks `share` for the probes of `keys` at once and lets the claims settle: whether each was granted. */
async function acquire(share: TabShare, ...keys: string[]): Promise<boolean[]> {
  const granted = Promise.all(keys.map((key) => share.acquireProbe(key, 10_000)))
  await vi.advanceTimersByTimeAsync(CLAIM_SETTLE)
  return granted
}

/** A page (with a window of its own) that heard `holder` claim `keys` (in that order), then went into the back/forward cache. */
async function awayWhileClaimed(...keys: string[]): Promise<{ away: TabShare; holder: TabShare; restore: () => void }> {
  const window = new EventTarget()
  vi.stubGlobal('addEventListener', window.addEventListener.bind(window))
  vi.stubGlobal('removeEventListener', window.removeEventListener.bind(window))
  const away = tab()
  away.connect(() => {})
  vi.stubGlobal('addEventListener', undefined)
  const holder = tab()
  holder.connect(() => {})
  expect((await acquire(holder, ...keys)).every(Boolean)).toBe(true)
  await flush()
  const transition = (type: string) => window.dispatchEvent(Object.assign(new Event(type), { persisted: true }))
  transition('pagehide')
  return { away, holder, restore: () => transition('pageshow') }
}

describe('restored from the back/forward cache, without Web Locks', () => {
  it("drops a claim released while away though another tab's claim now holds the key: that tab's release frees the probe", async () => {
    microtaskChannels()
    memoryStorage()
    const { away, holder, restore } = await awayWhileClaimed(KEY)
    holder.releaseProbe(KEY)
    await flush()
    const other = tab()
    other.connect(() => {})
    expect(await acquire(other, KEY)).toEqual([true])
    restore()
    other.releaseProbe(KEY)
    await flush()
    expect(await acquire(away, KEY)).toEqual([true])
  })

  it('keeps hearing a claim storage still held: cleared from storage afterwards, it is still not probed beside', async () => {
    microtaskChannels()
    const { map } = memoryStorage()
    const { away, restore } = await awayWhileClaimed(KEY)
    restore()
    map.clear()
    expect(await acquire(away, KEY)).toEqual([false])
  })

  it('the keys whose claims were all released while away take no room: a live claim is not pushed out by the next one heard', async () => {
    microtaskChannels()
    const { map } = memoryStorage()
    const released = Array.from({ length: MAX_CLAIMED_KEYS - 1 }, (_, i) => `https://r${i}.test`)
    const { away, holder, restore } = await awayWhileClaimed(KEY, ...released)
    for (const key of released) holder.releaseProbe(key)
    await flush()
    restore()
    expect(await acquire(holder, 'https://new.test')).toEqual([true])
    await flush()
    map.clear()
    expect(await acquire(away, KEY)).toEqual([false])
  })
})
