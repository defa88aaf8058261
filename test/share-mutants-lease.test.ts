/**
 * The probe lease across tabs without Web Locks (a claim in storage and on the channel): what mutation testing of
 * src/share/lease.ts found unpinned. Each share is a tab; channels deliver in a microtask, so flush() stands for the bus.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { shareAcrossTabs, type TabShare } from '../src/share/tabs.js'
import { flush } from './helpers.js'
import { memoryStorage } from './share-fakes.js'

const KEY = 'https://a.test'
const T0 = 1_000_000
/** How long a claim without Web Locks waits to hear a rival (CLAIM_SETTLE_MS in src/share/lease.ts). */
const CLAIM_SETTLE = 100

let name: string
let run = 0
const tabs: TabShare[] = []

beforeEach(() => {
  vi.useFakeTimers({ now: T0 })
  name = `rf-lease-${++run}`
})
afterEach(() => {
  for (const tab of tabs.splice(0)) tab.close()
  vi.unstubAllGlobals()
  vi.restoreAllMocks()
  vi.useRealTimers()
})

/** A BroadcastChannel that delivers each message to the other channels of its name in a microtask, in send order. */
function microtaskChannels(): void {
  const open = new Set<{ name: string; onmessage: ((event: MessageEvent) => void) | null }>()
  class Channel {
    onmessage: ((event: MessageEvent) => void) | null = null
    constructor(readonly name: string) {
      open.add(this)
    }
    postMessage(data: unknown): void {
      const copy = structuredClone(data)
      for (const other of open) if (other !== this && other.name === this.name) queueMicrotask(() => other.onmessage?.({ data: copy } as MessageEvent))
    }
    close(): void {
      open.delete(this)
    }
  }
  vi.stubGlobal('BroadcastChannel', Channel)
}

/** `count` connected tabs whose ids sort in creation order (the first is the lowest). */
function tabsInIdOrder(count: number): TabShare[] {
  let n = 0
  vi.spyOn(Math, 'random').mockImplementation(() => ++n / 100)
  return Array.from({ length: count }, () => {
    const share = shareAcrossTabs({ name })
    share.connect(() => {})
    tabs.push(share)
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
    map?.delete(`${name}:probe:${KEY}`)
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
    expect(map.has(`${name}:probe:${KEY}`)).toBe(false)
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
