/**
 * shareAcrossTabs's own bookkeeping (what it remembers, answers and keeps): what mutation testing of src/share/tabs.ts
 * found unpinned. Each share is a tab; channels deliver in a microtask, so flush() stands for the bus.
 */
import { describe, expect, it, vi } from 'vitest'
import type { SharedBreakerState } from '../src/index.js'
import type { TabShare } from '../src/share/tabs.js'
import { flush } from './helpers.js'
import { heldChannels, memoryStorage, microtaskChannels, tabSuite } from './share-fakes.js'

const KEY = 'https://a.test'
const T0 = 1_000_000

const { tab, name: shareName } = tabSuite('tabs', T0)

/** A connected tab and what it applies from the others. */
function listening(): { share: TabShare; seen: string[] } {
  const share = tab()
  const seen: string[] = []
  share.connect((key, state) => seen.push(`${key} ${state.state} ${state.at}`))
  return { share, seen }
}

const open = (at: number, openUntil: number): SharedBreakerState => ({ state: 'open', at, openedAt: at, openUntil })

describe('shareAcrossTabs', () => {
  it('a tab starts from the newer of what it heard and what storage keeps, each way round', async () => {
    microtaskChannels()
    const { map } = memoryStorage()
    const writer = listening().share
    const { share } = listening()
    writer.publish(KEY, open(T0, T0 + 5_000))
    await flush()
    // Storage newer than what was heard (another tab's write, its message not yet here).
    map.set(`${shareName()}:breaker:${KEY}`, JSON.stringify(open(T0 + 10, T0 + 9_000)))
    expect(share.initial(KEY)).toMatchObject({ at: T0 + 10, openUntil: T0 + 9_000 })
    // Heard newer than storage: a forced open with no end, which storage never keeps.
    writer.publish(KEY, { state: 'forced-open', at: T0 + 20 })
    await flush()
    expect(share.initial(KEY)).toMatchObject({ state: 'forced-open', at: T0 + 20 })
  })

  it('remembers the newest state heard for a key, not the last to arrive: a late older one is not answered to a tab that starts', async () => {
    microtaskChannels()
    memoryStorage()
    const { share } = listening()
    const raw = new BroadcastChannel(shareName())
    raw.postMessage({ t: 'state', from: 'x', key: KEY, state: { state: 'disabled', at: T0 + 5 } })
    raw.postMessage({ t: 'state', from: 'y', key: KEY, state: open(T0, T0 + 5_000) })
    await flush()
    expect(share.initial(KEY)).toMatchObject({ state: 'disabled' })
    const answers: unknown[] = []
    raw.onmessage = (event) => answers.push(event.data)
    raw.postMessage({ t: 'hello', from: 'z' })
    await flush()
    raw.close()
    expect(answers).toEqual([expect.objectContaining({ t: 'state', key: KEY, state: { state: 'disabled', at: T0 + 5 } })])
  })

  it('a half-open is not sent or kept: each tab reaches it by itself', () => {
    const channels = heldChannels()
    const { map } = memoryStorage()
    const share = tab()
    share.connect(() => {})
    const before = channels.pending().length
    share.publish(KEY, { state: 'half-open', at: T0, openedAt: T0 - 1000, openUntil: T0 })
    expect(channels.pending()).toHaveLength(before)
    expect(map.size).toBe(0)
    expect(share.initial(KEY)).toBeUndefined()
  })

  it('a tab that starts says hello once it listens', () => {
    const channels = heldChannels()
    memoryStorage()
    listening()
    listening()
    expect(channels.pending().map((m) => (m.data as { t: string }).t)).toEqual(['hello'])
  })

  it('a second instance connecting to a share opens no second channel and says no second hello', () => {
    const channels = heldChannels()
    const share = tab()
    share.connect(() => {})
    share.connect(() => {})
    expect(channels.open()).toHaveLength(1)
    expect(channels.pending()).toHaveLength(0)
  })

  it('close() twice is harmless, and a closed share publishes nothing and grants every probe', async () => {
    const channels = heldChannels()
    const { map } = memoryStorage()
    const share = tab()
    share.connect(() => {})
    share.close()
    share.close()
    share.publish(KEY, open(T0, T0 + 5_000))
    expect(map.size).toBe(0)
    expect(channels.open()).toHaveLength(0)
    expect(await share.acquireProbe(KEY, 1000)).toBe(true)
  })

  it('stops listening for pagehide once closed', () => {
    const window = new EventTarget()
    const removed: string[] = []
    vi.stubGlobal('addEventListener', window.addEventListener.bind(window))
    vi.stubGlobal('removeEventListener', (type: string, listener: EventListener) => {
      removed.push(type)
      window.removeEventListener(type, listener)
    })
    const share = tab()
    share.connect(() => {})
    share.close()
    expect(removed.sort()).toEqual(['pagehide', 'pagehide', 'pageshow'])
  })

  it.each([
    [1_000, true],
    [1_001, false],
  ])('remembers the states of the last 1000 keys heard: after %i keys, the first is still known: %s', async (count, known) => {
    microtaskChannels()
    const { share } = listening()
    const raw = new BroadcastChannel(shareName())
    for (let i = 0; i < count; i++) raw.postMessage({ t: 'state', from: 'x', key: `https://k${i}.test`, state: { state: 'disabled', at: T0 } })
    raw.close()
    await flush()
    expect(share.initial('https://k0.test') !== undefined).toBe(known)
    expect(share.initial('https://k1.test')).toBeDefined()
  })
})

