/**
 * The tab share's bus: what mutation testing of src/share/bus.ts found unpinned. Each share is a tab; one EventTarget is
 * the window of the tab the test sends away into the back/forward cache (the other tabs have none).
 */
import { describe, expect, it, vi } from 'vitest'
import { createResilientFetch, type ResilientFetch } from '../src/index.js'
import type { TabShare } from '../src/share/tabs.js'
import { flush, statusTransport } from './helpers.js'
import { heldChannels, memoryStorage, microtaskChannels, tabSuite } from './share-fakes.js'

const URL_A = 'https://a.test/x'
const KEY = 'https://a.test'
const T0 = 1_000_000

const { tab, name: shareName } = tabSuite('bus', T0)

function instance(share: TabShare, status = 200): ResilientFetch {
  return createResilientFetch({ fetch: statusTransport(status).fetch, share, retry: false, fallback: false, timeout: false, breaker: { window: 'consecutive', failureThreshold: 2, openDuration: 1000 } })
}

/** A tab with a window of its own: the EventTarget it listens on for pagehide, pageshow and storage (the global one from now on, if `last`). */
function tabWithWindow(window = new EventTarget(), last = false, named?: string): { share: TabShare; window: EventTarget } {
  vi.stubGlobal('addEventListener', window.addEventListener.bind(window))
  vi.stubGlobal('removeEventListener', window.removeEventListener.bind(window))
  const share = tab(named)
  share.connect(() => {})
  if (last) return { share, window }
  // The tabs made later have no window.
  vi.stubGlobal('addEventListener', undefined)
  vi.stubGlobal('removeEventListener', undefined)
  return { share, window }
}

const transition = (type: 'pagehide' | 'pageshow', persisted: boolean) => Object.assign(new Event(type), { persisted })

async function trip(rf: ResilientFetch): Promise<void> {
  await rf(URL_A)
  await rf(URL_A)
}

describe('a page kept for Back (the back/forward cache)', () => {
  it('leaves the channel while away, and restored, learns from the live tabs what changed meanwhile', async () => {
    microtaskChannels()
    memoryStorage()
    const { share, window } = tabWithWindow()
    const away = instance(share)
    await away(URL_A)
    const live = instance(tab(), 500)
    window.dispatchEvent(transition('pagehide', true))
    await trip(live)
    await flush()
    // A message to a page in the cache would evict it (Chromium): it heard nothing.
    expect(away.breaker(KEY)!.state).toBe('closed')
    window.dispatchEvent(transition('pageshow', true))
    await flush()
    expect(away.breaker(KEY)!.state).toBe('open')
  })

  it('restored, adopts the opens kept in storage by tabs gone since', async () => {
    microtaskChannels()
    memoryStorage()
    const { share, window } = tabWithWindow()
    const away = instance(share)
    await away(URL_A)
    window.dispatchEvent(transition('pagehide', true))
    const goneShare = tab()
    await trip(instance(goneShare, 500))
    goneShare.close()
    window.dispatchEvent(transition('pageshow', true))
    expect(away.breaker(KEY)!.state).toBe('open')
  })

  it('a pagehide that does not keep the page, or a pageshow of a page never away, leaves the channel as it is', () => {
    const channels = heldChannels()
    const { window } = tabWithWindow()
    expect(channels.open()).toHaveLength(1)
    window.dispatchEvent(transition('pageshow', true))
    expect(channels.open()).toHaveLength(1)
    expect(channels.pending()).toHaveLength(0)
    window.dispatchEvent(transition('pagehide', false))
    expect(channels.open()).toHaveLength(1)
  })

  it('a share closed leaves the page for good: restored, it rejoins nothing', () => {
    const channels = heldChannels()
    const { share, window } = tabWithWindow()
    window.dispatchEvent(transition('pagehide', true))
    expect(channels.open()).toHaveLength(0)
    vi.stubGlobal('removeEventListener', window.removeEventListener.bind(window))
    share.close()
    window.dispatchEvent(transition('pageshow', true))
    expect(channels.open()).toHaveLength(0)
  })

  it('without BroadcastChannel, stops listening to storage events while away, and listens again once restored', async () => {
    vi.stubGlobal('BroadcastChannel', undefined)
    // In a browser the other tabs' documents get the event; here only the tab sent away listens.
    const window = new EventTarget()
    memoryStorage((key, newValue) => window.dispatchEvent(Object.assign(new Event('storage'), { key, newValue })))
    // The sender needs window events too, or it has no bus to send on.
    const other = tabWithWindow().share
    const seen: string[] = []
    tabWithWindow(window, true).share.connect((key, state) => seen.push(`${key} ${state.state}`))
    window.dispatchEvent(transition('pagehide', true))
    other.publish(KEY, { state: 'forced-open', at: T0 })
    expect(seen).toEqual([])
    window.dispatchEvent(transition('pageshow', true))
    other.publish(KEY, { state: 'closed', at: T0 + 1 })
    expect(seen).toEqual([`${KEY} closed`])
  })
})

describe('the bus', () => {
  it('without BroadcastChannel, hears only the storage events of its own name: another app on the origin is not a tab of it', () => {
    vi.stubGlobal('BroadcastChannel', undefined)
    const window = new EventTarget()
    memoryStorage((key, newValue) => window.dispatchEvent(Object.assign(new Event('storage'), { key, newValue })))
    const other = tabWithWindow(new EventTarget()).share
    const foreign = tabWithWindow(new EventTarget(), false, `${shareName()}-other-app`).share
    const seen: string[] = []
    tabWithWindow(window, true).share.connect((key, state) => seen.push(`${key} ${state.state}`))
    foreign.publish(KEY, { state: 'forced-open', at: T0 })
    other.publish(KEY, { state: 'disabled', at: T0 })
    expect(seen).toEqual([`${KEY} disabled`])
  })

  it('a BroadcastChannel that cannot be made leaves the tab on storage events', () => {
    vi.stubGlobal('BroadcastChannel', class {
      constructor() {
        throw new DOMException('The operation is insecure.', 'SecurityError')
      }
    })
    const window = new EventTarget()
    memoryStorage((key, newValue) => window.dispatchEvent(Object.assign(new Event('storage'), { key, newValue })))
    const other = tabWithWindow(new EventTarget()).share
    const seen: string[] = []
    tabWithWindow(window, true).share.connect((key, state) => seen.push(`${key} ${state.state}`))
    other.publish(KEY, { state: 'disabled', at: T0 })
    expect(seen).toEqual([`${KEY} disabled`])
  })

  it('unrefs its channel where the runtime can (Node, Deno, Bun): a share must not keep the process alive', () => {
    const unref = vi.fn()
    vi.stubGlobal('BroadcastChannel', class {
      onmessage = null
      unref = unref
      close() {}
    })
    tab().connect(() => {})
    expect(unref).toHaveBeenCalledTimes(1)
  })

  it.each([
    ['no sender', { t: 'state', key: KEY }],
    ['a sender that is not a string', { t: 'state', from: 7, key: KEY }],
    ['a key that is not a string', { t: 'state', from: 'x', key: 7 }],
  ])('a state message with %s is ignored', async (_, message) => {
    microtaskChannels()
    const seen: unknown[] = []
    tab().connect((key) => seen.push(key))
    const raw = new BroadcastChannel(shareName())
    raw.postMessage({ ...message, state: { state: 'disabled', at: T0 } })
    raw.postMessage({ t: 'state', from: 'x', key: KEY, state: { state: 'closed', at: T0 } })
    raw.close()
    await flush()
    expect(seen).toEqual([KEY])
  })

  it('a global with addEventListener but no removeEventListener is no window: close() never throws', () => {
    vi.stubGlobal('addEventListener', vi.fn())
    const share = tab()
    share.connect(() => {})
    expect(() => share.close()).not.toThrow()
  })

  it('without BroadcastChannel or localStorage, window events alone carry nothing: a probe is granted at once', async () => {
    vi.stubGlobal('BroadcastChannel', undefined)
    const window = new EventTarget()
    vi.stubGlobal('addEventListener', window.addEventListener.bind(window))
    vi.stubGlobal('removeEventListener', window.removeEventListener.bind(window))
    const share = tab()
    share.connect(() => {})
    let granted: boolean | undefined
    void share.acquireProbe(KEY, 1000).then((g) => (granted = g))
    await flush()
    expect(granted).toBe(true)
  })

  it('without window events, a tab on localStorage alone writes no messages there: no tab could hear them', () => {
    vi.stubGlobal('BroadcastChannel', undefined)
    const { map } = memoryStorage()
    const share = tab()
    share.connect(() => {})
    share.publish(KEY, { state: 'disabled', at: T0 })
    expect([...map.keys()].filter((k) => k.endsWith(':message'))).toEqual([])
  })

  it('without BroadcastChannel, a tab that starts says hello over storage events and adopts what a live tab answers', () => {
    vi.stubGlobal('BroadcastChannel', undefined)
    const window = new EventTarget()
    memoryStorage((key, newValue) => window.dispatchEvent(Object.assign(new Event('storage'), { key, newValue })))
    // One window for both tabs: each hears the other's writes (and its own, which it ignores).
    vi.stubGlobal('addEventListener', window.addEventListener.bind(window))
    vi.stubGlobal('removeEventListener', window.removeEventListener.bind(window))
    const live = tab()
    live.connect(() => {})
    live.publish(KEY, { state: 'forced-open', at: T0 })
    const seen: string[] = []
    tab().connect((key, state) => seen.push(`${key} ${state.state}`))
    expect(seen).toEqual([`${KEY} forced-open`])
  })

  it('without BroadcastChannel, a tab ignores the storage events of its own messages', () => {
    vi.stubGlobal('BroadcastChannel', undefined)
    const window = new EventTarget()
    memoryStorage((key, newValue) => window.dispatchEvent(Object.assign(new Event('storage'), { key, newValue })))
    vi.stubGlobal('addEventListener', window.addEventListener.bind(window))
    vi.stubGlobal('removeEventListener', window.removeEventListener.bind(window))
    const seen: string[] = []
    const share = tab()
    share.connect((key, state) => seen.push(`${key} ${state.state}`))
    share.publish(KEY, { state: 'disabled', at: T0 })
    const other = tab()
    other.connect(() => {})
    other.publish(KEY, { state: 'closed', at: T0 + 1 })
    expect(seen).toEqual([`${KEY} closed`])
  })

  it('a channel that cannot post a message leaves the tab local-only: publishing never throws', () => {
    vi.stubGlobal('BroadcastChannel', class {
      onmessage = null
      postMessage() {
        throw new DOMException('could not be cloned', 'DataCloneError')
      }
      close() {}
    })
    const share = tab()
    share.connect(() => {})
    expect(() => share.publish(KEY, { state: 'disabled', at: T0 })).not.toThrow()
  })

  it('a message of no known kind is not taken for a state, whatever it carries', async () => {
    microtaskChannels()
    const seen: string[] = []
    tab().connect((key) => seen.push(key))
    const raw = new BroadcastChannel(shareName())
    raw.postMessage({ t: 'grab', from: 'x', key: KEY, state: { state: 'disabled', at: T0 } })
    raw.close()
    await flush()
    expect(seen).toEqual([])
  })

  it('a message of no known kind is not taken for a release, whatever it carries', async () => {
    microtaskChannels()
    const share = tab()
    share.connect(() => {})
    const raw = new BroadcastChannel(shareName())
    raw.postMessage({ t: 'claim', from: '!', key: KEY, until: T0 + 60_000 })
    raw.postMessage({ t: 'drop', from: '!', key: KEY })
    raw.close()
    await flush()
    let granted: boolean | undefined
    void share.acquireProbe(KEY, 1000).then((g) => (granted = g))
    await vi.advanceTimersByTimeAsync(100)
    expect(granted).toBe(false)
  })

  it('a message of no known kind is not taken for a claim, whatever it carries', async () => {
    microtaskChannels()
    const share = tab()
    share.connect(() => {})
    const raw = new BroadcastChannel(shareName())
    raw.postMessage({ t: 'grab', from: '!', key: KEY, until: T0 + 60_000 })
    raw.close()
    await flush()
    let granted: boolean | undefined
    void share.acquireProbe(KEY, 1000).then((g) => (granted = g))
    await vi.advanceTimersByTimeAsync(100)
    expect(granted).toBe(true)
  })
})

