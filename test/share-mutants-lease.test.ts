/**
 * The probe lease across tabs without Web Locks (a claim in storage and on the channel): what mutation testing of
 * src/share/lease.ts found unpinned. Each share is a tab; channels deliver in a microtask, so flush() stands for the bus.
 */
import { afterEach, describe, expect, it, vi } from 'vitest'
import type { TabShare } from '../src/share/tabs.js'
import { flush } from './helpers.js'
import { fakeLocks, memoryStorage, microtaskChannels, tabSuite } from './share-fakes.js'

const KEY = 'https://a.test'
const T0 = 1_000_000
/** How long a claim without Web Locks waits to hear a rival (CLAIM_SETTLE_MS in src/share/lease.ts). */
const CLAIM_SETTLE = 100

const { tab, name } = tabSuite('lease', T0)
afterEach(() => vi.restoreAllMocks())

/** `count` connected tabs whose ids sort in creation order (the first is the lowest). */
function tabsInIdOrder(count: number): TabShare[] {
  let n = 0
  vi.spyOn(Math, 'random').mockImplementation(() => ++n / 100)
  return Array.from({ length: count }, () => {
    const share = tab()
    share.connect(() => {})
    return share
  })
}

/** Asks `share` for the probe and lets the claim settle. */
async function acquire(share: TabShare, ttl = 1000): Promise<boolean> {
  const granted = share.acquireProbe(KEY, ttl)
  await vi.advanceTimersByTimeAsync(CLAIM_SETTLE)
  return granted
}

describe('the probe lease without Web Locks', () => {
  it.each([
    ['with localStorage', true],
    ['without localStorage', false],
  ])('%s, a tab that lost a claim withdraws it: once the winner releases, a third tab may probe at once', async (_, withStorage) => {
    microtaskChannels()
    const map = withStorage ? memoryStorage().map : undefined
    const [low, mid, high] = tabsInIdOrder(3)
    const first = low!.acquireProbe(KEY, 1000)
    // Another tab's localStorage write may reach this one late (Chromium syncs it between processes): high has not seen low's.
    map?.delete(`${name()}:probe:${KEY}`)
    const both = [first, high!.acquireProbe(KEY, 1000)]
    await vi.advanceTimersByTimeAsync(CLAIM_SETTLE)
    expect(await Promise.all(both)).toEqual([true, false])
    low!.releaseProbe(KEY)
    await flush()
    expect(await acquire(mid!)).toBe(true)
  })

  it('a page going away while its claim waits to hear rivals withdraws it: another tab may probe at once', async () => {
    microtaskChannels()
    const { map } = memoryStorage()
    // Only the first tab's window: the pagehide is its own.
    const window = new EventTarget()
    vi.stubGlobal('addEventListener', window.addEventListener.bind(window))
    vi.stubGlobal('removeEventListener', window.removeEventListener.bind(window))
    const [leaving] = tabsInIdOrder(1)
    vi.stubGlobal('addEventListener', undefined)
    const [other] = tabsInIdOrder(1)
    const claimed = leaving!.acquireProbe(KEY, 10_000)
    await flush()
    window.dispatchEvent(new Event('pagehide'))
    expect(map.has(`${name()}:probe:${KEY}`)).toBe(false)
    await flush()
    expect(await acquire(other!)).toBe(true)
    expect(await claimed).toBe(false)
  })

  it('a share closed while its claim waits withdraws it: another tab may probe at once', async () => {
    microtaskChannels()
    const [closing, other] = tabsInIdOrder(2)
    const claimed = closing!.acquireProbe(KEY, 10_000)
    await flush()
    closing!.close()
    await flush()
    expect(await acquire(other!)).toBe(true)
    expect(await claimed).toBe(false)
  })
})

describe('the probe lease, its bounds and its storage', () => {
  it('a probe asked for longer than a claim may last is claimed for an hour: heard by the other tabs, and then free', async () => {
    microtaskChannels()
    const [holder, other] = tabsInIdOrder(2)
    expect(await acquire(holder!, 8.64e15)).toBe(true)
    expect(await acquire(other!)).toBe(false)
    await vi.advanceTimersByTimeAsync(3_600_000)
    expect(await acquire(other!)).toBe(true)
  })

  it('a claim for less than the settle time waits only that long', async () => {
    microtaskChannels()
    const [share] = tabsInIdOrder(1)
    let granted: boolean | undefined
    void share!.acquireProbe(KEY, 40).then((g) => (granted = g))
    await vi.advanceTimersByTimeAsync(40)
    expect(granted).toBe(true)
  })

  it('the winner of a race its rival wrote last makes storage say it won; a loser that wrote last hands storage to the winner', async () => {
    microtaskChannels()
    const { map } = memoryStorage()
    const [low, high] = tabsInIdOrder(2)
    const claimKey = `${name()}:probe:${KEY}`
    const owner = () => (JSON.parse(map.get(claimKey)!) as { owner: string }).owner
    const first = low!.acquireProbe(KEY, 1000)
    const lowId = owner()
    // High has not seen low's write (Chromium syncs localStorage between processes late), and settles first (a shorter ttl).
    map.delete(claimKey)
    const second = high!.acquireProbe(KEY, 50)
    await vi.advanceTimersByTimeAsync(50)
    expect(await second).toBe(false)
    expect(owner()).toBe(lowId)
    map.set(claimKey, JSON.stringify({ owner: 'zzz', until: T0 + 1000 }))
    await vi.advanceTimersByTimeAsync(CLAIM_SETTLE)
    expect(await first).toBe(true)
    expect(owner()).toBe(lowId)
  })

  it('a tab that starts drops the claims in storage whose time has passed, and keeps the live ones', () => {
    const { map } = memoryStorage()
    map.set(`${name()}:probe:https://old.test`, JSON.stringify({ owner: 'x', until: T0 }))
    map.set(`${name()}:probe:https://live.test`, JSON.stringify({ owner: 'x', until: T0 + 1 }))
    tabsInIdOrder(1)
    expect([...map.keys()]).toEqual([`${name()}:probe:https://live.test`])
  })
})

describe('the claims a tab hears and reads', () => {
  /** Sends `messages` on the share's channel as another tab would, and lets them arrive. */
  async function hear(...messages: object[]): Promise<void> {
    const raw = new BroadcastChannel(name())
    for (const message of messages) raw.postMessage(message)
    raw.close()
    await flush()
  }
  const claim = (key: string, from = '!', until = T0 + 60_000) => ({ t: 'claim', from, key, until })

  it('claims are remembered for 1000 keys, a released key not among them; the 1001st drops the oldest', async () => {
    microtaskChannels()
    const [share] = tabsInIdOrder(1)
    const key = (i: number) => `https://k${i}.test`
    const probe = async (i: number) => {
      const granted = share!.acquireProbe(key(i), 1000)
      await vi.advanceTimersByTimeAsync(CLAIM_SETTLE)
      return granted
    }
    await hear(...Array.from({ length: 999 }, (_, i) => claim(key(i + 1))))
    await hear(claim(key(0)), { t: 'release', from: '!', key: key(0) }, claim(key(1000)))
    expect(await probe(1)).toBe(false)
    await hear(claim(key(1001)))
    expect(await probe(2)).toBe(false)
    expect(await probe(1)).toBe(true)
  })

  it('a claim heard refuses probes until the ms it ends, not in that ms', async () => {
    microtaskChannels()
    const [share] = tabsInIdOrder(1)
    await hear(claim(KEY, '!', T0 + 500))
    vi.setSystemTime(T0 + 499)
    expect(await share!.acquireProbe(KEY, 1000)).toBe(false)
    vi.setSystemTime(T0 + 500)
    expect(await acquire(share!)).toBe(true)
  })

  it('the lowest owner wins among the claims in storage and heard, whichever is read first', async () => {
    microtaskChannels()
    const { map } = memoryStorage()
    const [share] = tabsInIdOrder(1)
    const granted = share!.acquireProbe(KEY, 1000)
    // While it waits: a lower rival's claim is heard, and a higher one wrote storage last.
    await hear(claim(KEY, '0'))
    map.set(`${name()}:probe:${KEY}`, JSON.stringify({ owner: '~', until: T0 + 60_000 }))
    await vi.advanceTimersByTimeAsync(CLAIM_SETTLE)
    expect(await granted).toBe(false)
  })

  it('a tab that ends its probe leaves in storage a claim another tab wrote over its own', async () => {
    const { map } = memoryStorage()
    const [share] = tabsInIdOrder(1)
    expect(await acquire(share!)).toBe(true)
    const rival = JSON.stringify({ owner: '~', until: T0 + 60_000 })
    map.set(`${name()}:probe:${KEY}`, rival)
    share!.releaseProbe(KEY)
    expect(map.get(`${name()}:probe:${KEY}`)).toBe(rival)
  })

  it.each([
    ['null', 'null'],
    ['a claim whose owner is not a string', JSON.stringify({ owner: 7, until: T0 + 60_000 })],
  ])('%s in storage is no claim: the probe is granted', async (_, stored) => {
    const { map } = memoryStorage()
    map.set(`${name()}:probe:${KEY}`, stored)
    const [share] = tabsInIdOrder(1)
    expect(await acquire(share!)).toBe(true)
  })

  it('releasing a probe this tab does not hold is harmless', () => {
    const [share] = tabsInIdOrder(1)
    expect(() => share!.releaseProbe(KEY)).not.toThrow()
  })
})

describe('the probe lease with Web Locks', () => {
  it.each([
    ['locks is null', () => vi.stubGlobal('navigator', { locks: null })],
    ['locks has no request()', () => vi.stubGlobal('navigator', { locks: {} })],
    ['reading navigator throws', () => Object.defineProperty(globalThis, 'navigator', { configurable: true, get: () => { throw new Error('denied') } })],
    ['the lock manager refuses', () => vi.stubGlobal('navigator', { locks: { request: () => Promise.reject(new DOMException('opaque origin', 'SecurityError')) } })],
  ])('where %s, claims the probe in storage instead', async (_, setUp) => {
    const saved = Object.getOwnPropertyDescriptor(globalThis, 'navigator')
    const { map } = memoryStorage()
    setUp()
    try {
      const [share] = tabsInIdOrder(1)
      const granted = share!.acquireProbe(KEY, 1000)
      await vi.advanceTimersByTimeAsync(0)
      expect(map.has(`${name()}:probe:${KEY}`)).toBe(true)
      await vi.advanceTimersByTimeAsync(CLAIM_SETTLE)
      expect(await granted).toBe(true)
    } finally {
      // Where there was no navigator (Node 20), none is left: a throwing getter would outlive the test.
      if (saved) Object.defineProperty(globalThis, 'navigator', saved)
      else delete (globalThis as { navigator?: unknown }).navigator
    }
  })

  it('a lock manager that never answers refuses the probe after its ttl; a lock granted after that is given back at once', async () => {
    let grant: (() => unknown) | undefined
    let released = false
    vi.stubGlobal('navigator', {
      locks: {
        request: (_: string, __: object, callback: (lock: object | null) => unknown) =>
          new Promise<void>((resolve) => {
            grant = async () => {
              await callback({})
              released = true
              resolve()
            }
          }),
      },
    })
    const [share] = tabsInIdOrder(1)
    let granted: boolean | undefined
    void share!.acquireProbe(KEY, 1000).then((g) => (granted = g))
    await vi.advanceTimersByTimeAsync(999)
    expect(granted).toBeUndefined()
    await vi.advanceTimersByTimeAsync(1)
    expect(granted).toBe(false)
    await grant!()
    expect(released).toBe(true)
  })

  it('a lock manager that refuses only after the probe was refused leaves no claim behind', async () => {
    const { map } = memoryStorage()
    let refuse: (() => void) | undefined
    vi.stubGlobal('navigator', {
      locks: { request: () => new Promise((_, reject) => (refuse = () => reject(new DOMException('opaque origin', 'SecurityError')))) },
    })
    const [share] = tabsInIdOrder(1)
    const granted = share!.acquireProbe(KEY, 1000)
    await vi.advanceTimersByTimeAsync(1000)
    expect(await granted).toBe(false)
    refuse!()
    await vi.advanceTimersByTimeAsync(CLAIM_SETTLE)
    expect(map.has(`${name()}:probe:${KEY}`)).toBe(false)
  })

  it('a lock granted once the share has closed is given back, and the probe refused', async () => {
    let grant: (() => Promise<unknown>) | undefined
    vi.stubGlobal('navigator', {
      locks: { request: (_: string, __: object, callback: (lock: object | null) => unknown) => new Promise((resolve) => (grant = async () => resolve(await callback({})))) },
    })
    const [share] = tabsInIdOrder(1)
    const granted = share!.acquireProbe(KEY, 1000)
    share!.close()
    await grant!()
    expect(await granted).toBe(false)
  })

  it('one probe per key from a tab, whatever halfOpen.probes allows: a second ask while it holds the lock is refused', async () => {
    fakeLocks()
    const [share] = tabsInIdOrder(1)
    expect(await share!.acquireProbe(KEY, 1000)).toBe(true)
    expect(await share!.acquireProbe(KEY, 1000)).toBe(false)
    share!.releaseProbe(KEY)
    await flush()
    expect(await share!.acquireProbe(KEY, 1000)).toBe(true)
  })
})

