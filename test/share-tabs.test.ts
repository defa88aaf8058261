/**
 * shareAcrossTabs in Node: each share is a tab (Node 20 has BroadcastChannel), an in-test Storage is the
 * origin's localStorage, and an in-test LockManager stands in for Web Locks where a test wants them.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { CircuitOpenError, createResilientFetch, type ResilientFetch } from '../src/index.js'
import { shareAcrossTabs, type TabShare } from '../src/share/tabs.js'
import { controlledTransport, flush, statusTransport } from './helpers.js'
import { fakeLocks, memoryStorage, microtaskChannels } from './share-fakes.js'

const URL_A = 'https://a.test/x'
const KEY = 'https://a.test'
const T0 = 1_000_000
/** How long a claim without Web Locks waits to hear a rival (CLAIM_SETTLE_MS in src/share/lease.ts). */
const CLAIM_SETTLE = 100

let name: string
let run = 0
const tabs: TabShare[] = []

beforeEach(() => {
  vi.useFakeTimers({ now: T0 })
  // A channel of its own per test: a message still in flight never reaches the next test.
  name = `rf-test-${++run}`
})
afterEach(() => {
  for (const tab of tabs.splice(0)) tab.close()
  vi.unstubAllGlobals()
  vi.useRealTimers()
})

/** A tab: a share of its own, closed after the test. */
function tab(options: { name?: string } = { name }): TabShare {
  const share = shareAcrossTabs(options)
  tabs.push(share)
  return share
}

function instance(share: TabShare, fetch: typeof globalThis.fetch, openDuration = 1000): ResilientFetch {
  return createResilientFetch({ fetch, share, retry: false, fallback: false, timeout: false, breaker: { window: 'consecutive', failureThreshold: 2, openDuration } })
}

/** Resolves on the instance's next state change to `to` (channel messages arrive on real I/O, not fake timers). */
function becomes(rf: ResilientFetch, to: string): Promise<void> {
  return new Promise((resolve) => {
    const listener = (event: CustomEvent<{ to: string }>) => {
      if (event.detail.to !== to) return
      rf.removeEventListener('statechange', listener as never)
      resolve()
    }
    rf.addEventListener('statechange', listener as never)
  })
}

async function trip(rf: ResilientFetch): Promise<void> {
  await rf(URL_A)
  await rf(URL_A)
}

describe('shareAcrossTabs', () => {
  it('an open decision in one tab makes the other fail fast', async () => {
    memoryStorage()
    const a = statusTransport(500)
    const b = statusTransport(200)
    const one = instance(tab(), a.fetch)
    const two = instance(tab(), b.fetch)
    const heard = becomes(two, 'open')
    await trip(one)
    expect(one.breaker(KEY)!.state).toBe('open')
    await heard
    expect(two.breaker(KEY)!.state).toBe('open')
    await expect(two(URL_A)).rejects.toBeInstanceOf(CircuitOpenError)
    expect(a.mock).toHaveBeenCalledTimes(2)
    expect(b.mock).not.toHaveBeenCalled()
  })

  it('a reload within the open window starts open; one after it starts closed and drops the entry', async () => {
    const { map } = memoryStorage()
    await trip(instance(tab(), statusTransport(500).fetch))
    expect(JSON.parse(map.get(`${name}:breaker:${KEY}`)!)).toMatchObject({ state: 'open', openUntil: T0 + 1000 })

    vi.setSystemTime(T0 + 999)
    const reloaded = statusTransport(200)
    const early = instance(tab(), reloaded.fetch)
    await expect(early(URL_A)).rejects.toBeInstanceOf(CircuitOpenError)
    expect(early.breaker(KEY)!.state).toBe('open')

    vi.setSystemTime(T0 + 1000)
    const late = instance(tab(), reloaded.fetch)
    expect((await late(URL_A)).status).toBe(200)
    expect(late.breaker(KEY)!.state).toBe('closed')
    expect(reloaded.mock).toHaveBeenCalledTimes(1)
    expect(map.has(`${name}:breaker:${KEY}`)).toBe(false)
  })

  it('closing in one tab closes the others and forgets the persisted state', async () => {
    const { map } = memoryStorage()
    const one = instance(tab(), statusTransport(500).fetch)
    const two = instance(tab(), statusTransport(200).fetch)
    const opened = becomes(two, 'open')
    await trip(one)
    await opened
    const closed = becomes(two, 'closed')
    one.breaker(KEY)!.close()
    await closed
    expect(two.breaker(KEY)!.state).toBe('closed')
    expect(map.has(`${name}:breaker:${KEY}`)).toBe(false)
    expect(tab().initial(KEY)).toBeUndefined()
  })

  it('a tab that starts, answered with a close every tab already has, empties no window: failures counted before still count', async () => {
    memoryStorage()
    microtaskChannels()
    const one = instance(tab(), statusTransport(500).fetch)
    instance(tab(), statusTransport(200).fetch)
    await one(URL_A)
    one.breaker(KEY)!.open()
    one.breaker(KEY)!.close()
    await flush()
    // One failure of the two that open it.
    await one(URL_A)
    // A reload: the other tab answers its hello with the close it heard from this one, which hears it too.
    instance(tab(), statusTransport(200).fetch)
    await flush()
    await one(URL_A)
    expect(one.breaker(KEY)!.state).toBe('open')
  })

  it('a close adopted from another participant resets the open duration growth, as a local close does', async () => {
    vi.stubGlobal('BroadcastChannel', undefined)
    const share = tab()
    const breaker = { window: 'consecutive', failureThreshold: 1, openDuration: { base: 1000, max: 64_000, multiplier: 2, jitter: 0 } } as const
    const a = controlledTransport()
    const b = controlledTransport()
    const one = createResilientFetch({ fetch: a.fetch, share, retry: false, fallback: false, timeout: false, breaker })
    const two = createResilientFetch({ fetch: b.fetch, share, retry: false, fallback: false, timeout: false, breaker })
    const answer = async (rf: ResilientFetch, t: ReturnType<typeof controlledTransport>, status: number) => {
      const call = rf(URL_A)
      await vi.advanceTimersByTimeAsync(0)
      t.pending[0]!.respond(status)
      await call
    }
    const openFor = () => two.snapshot().breakers[0]!.nextProbeAt! - Date.now()
    // Outage 1: two trips and its probes fail twice, growing its open duration to 4 s.
    await answer(two, b, 500)
    for (const ms of [1000, 2000]) {
      vi.advanceTimersByTime(ms)
      await answer(two, b, 500)
    }
    expect(openFor()).toBe(4000)
    vi.advanceTimersByTime(4000)
    // one's probe closes the breaker; two adopts the close.
    await answer(one, a, 200)
    expect(two.breaker(KEY)!.state).toBe('closed')
    vi.advanceTimersByTime(60_000)
    // Outage 2 opens for the base duration again, in two and in one.
    await answer(two, b, 500)
    expect(openFor()).toBe(1000)
    expect(one.snapshot().breakers[0]!.nextProbeAt! - Date.now()).toBe(1000)
  })

  it('a forced open with no end reaches live tabs but is not kept for reloads', async () => {
    const { map } = memoryStorage()
    const first = tab()
    const second = tab()
    const one = instance(first, statusTransport(200).fetch)
    const two = instance(second, statusTransport(200).fetch)
    const heard = becomes(two, 'forced-open')
    one(URL_A)
    one.breaker(KEY)!.open()
    await heard
    expect(map.has(`${name}:breaker:${KEY}`)).toBe(false)
    // Once every tab that knew it is gone, a new one starts closed.
    first.close()
    second.close()
    const reloaded = instance(tab(), statusTransport(200).fetch)
    expect((await reloaded(URL_A)).status).toBe(200)
  })

  it('a forced open with no end reaches the tabs that start or reload later, until close() in any tab', async () => {
    microtaskChannels()
    memoryStorage()
    const first = tab()
    const one = instance(first, statusTransport(200).fetch)
    const two = instance(tab(), statusTransport(200).fetch)
    await one(URL_A)
    await two(URL_A)
    one.breaker(KEY)!.open()
    await flush()
    expect(two.breaker(KEY)!.state).toBe('forced-open')
    // The tab that chose it reloads, and another one opens.
    first.close()
    const reloaded = instance(tab(), statusTransport(200).fetch)
    const other = instance(tab(), statusTransport(200).fetch)
    await flush()
    vi.advanceTimersByTime(24 * 3_600_000)
    await expect(reloaded(URL_A)).rejects.toBeInstanceOf(CircuitOpenError)
    expect([two, reloaded, other].map((rf) => rf.breaker(KEY)!.state)).toEqual(['forced-open', 'forced-open', 'forced-open'])
    other.breaker(KEY)!.close()
    await flush()
    expect([two, reloaded, other].map((rf) => rf.breaker(KEY)!.state)).toEqual(['closed', 'closed', 'closed'])
  })

  describe.each([
    ['Web Locks', true],
    ['a claim in storage and on the channel (no Web Locks)', false],
  ])('one probe across tabs with %s', (_, withLocks) => {
    it('when the window passes, only one tab probes; its success closes both', async () => {
      const { map } = memoryStorage()
      const locks = withLocks ? fakeLocks() : undefined
      const c = controlledTransport()
      const one = instance(tab(), c.fetch)
      const two = instance(tab(), c.fetch)
      const opened = becomes(two, 'open')
      const first = one(URL_A)
      const second = one(URL_A)
      await flush()
      c.pending.splice(0).forEach((p) => p.respond(500))
      await Promise.all([first, second])
      await opened

      vi.setSystemTime(T0 + 1000)
      const calls = [one(URL_A), two(URL_A), one(URL_A), two(URL_A)]
      const settled = calls.map((p) => p.then((r) => r.status, (e: Error) => e.name))
      // The claim path waits a moment to hear a rival's claim.
      await vi.advanceTimersByTimeAsync(withLocks ? 0 : CLAIM_SETTLE)
      expect(c.mock).toHaveBeenCalledTimes(3)
      expect(c.pending).toHaveLength(1)
      if (locks) expect([...locks]).toEqual([`${name}:probe:${KEY}`])
      else expect(JSON.parse(map.get(`${name}:probe:${KEY}`)!)).toMatchObject({ until: T0 + 1000 + 30_000 })

      const closed = [becomes(one, 'closed'), becomes(two, 'closed')]
      c.pending[0]!.respond(200)
      await Promise.race(closed)
      await Promise.all(closed)
      const results = await Promise.all(settled)
      expect(results.filter((r) => r === 200)).toHaveLength(1)
      expect(results.filter((r) => r === 'CircuitOpenError')).toHaveLength(3)
      await flush()
      if (locks) expect(locks.size).toBe(0)
      else expect(map.has(`${name}:probe:${KEY}`)).toBe(false)
      const after = two(URL_A)
      await flush()
      c.pending[0]!.respond(200)
      expect((await after).status).toBe(200)
    })

    it('a probe never released frees the slot after its ttl', async () => {
      memoryStorage()
      if (withLocks) fakeLocks()
      const one = tab()
      const two = tab()
      let heard: (() => void) | undefined
      one.connect(() => heard?.())
      two.connect(() => {})
      const settle = () => vi.advanceTimersByTimeAsync(withLocks ? 0 : CLAIM_SETTLE)
      const granted = one.acquireProbe(KEY, 1000)
      await settle()
      expect(await granted).toBe(true)
      const refused = two.acquireProbe(KEY, 1000)
      await settle()
      expect(await refused).toBe(false)
      await vi.advanceTimersByTimeAsync(1000)
      const later = two.acquireProbe(KEY, 1000)
      await settle()
      expect(await later).toBe(true)
      two.releaseProbe(KEY)
      // A tab's messages arrive in order: once one hears this state, it has heard the release.
      await new Promise<void>((resolve) => {
        heard = resolve
        two.publish(KEY, { state: 'closed', at: Date.now() })
      })
      await flush()
      const again = one.acquireProbe(KEY, 1000)
      await settle()
      expect(await again).toBe(true)
    })
  })

  describe('without Web Locks, tabs that claim at once', () => {

    it.each([3, 5])('with %i tabs whose claims are all heard in time, exactly one probes (the lowest id wins everywhere)', async (count) => {
      microtaskChannels()
      // Ids in creation order, so the claims arrive in id order: the order that made every tab but the last win.
      let n = 0
      vi.spyOn(Math, 'random').mockImplementation(() => ++n / 10)
      const shares = Array.from({ length: count }, () => tab())
      for (const share of shares) share.connect(() => {})
      const granted = shares.map((share) => share.acquireProbe(KEY, 1000))
      await vi.advanceTimersByTimeAsync(CLAIM_SETTLE)
      expect(await Promise.all(granted)).toEqual([true, ...Array.from({ length: count - 1 }, () => false)])
    })

    it('in reverse id order, still exactly one probes', async () => {
      microtaskChannels()
      let n = 10
      vi.spyOn(Math, 'random').mockImplementation(() => --n / 10)
      const shares = Array.from({ length: 4 }, () => tab())
      for (const share of shares) share.connect(() => {})
      const granted = shares.map((share) => share.acquireProbe(KEY, 1000))
      await vi.advanceTimersByTimeAsync(CLAIM_SETTLE)
      expect(await Promise.all(granted)).toEqual([false, false, false, true])
    })

    it('a released or expired claim no longer beats a live one', async () => {
      microtaskChannels()
      let n = 0
      vi.spyOn(Math, 'random').mockImplementation(() => ++n / 10)
      const [low, high] = [tab(), tab()]
      low.connect(() => {})
      high.connect(() => {})
      const first = low.acquireProbe(KEY, 1000)
      await vi.advanceTimersByTimeAsync(CLAIM_SETTLE)
      expect(await first).toBe(true)
      low.releaseProbe(KEY)
      await flush()
      const second = high.acquireProbe(KEY, 1000)
      await vi.advanceTimersByTimeAsync(CLAIM_SETTLE)
      expect(await second).toBe(true)
    })
  })

  it('with halfOpen.probes 2, still one probe crosses the tabs', async () => {
    memoryStorage()
    const c = controlledTransport()
    const options = { fetch: c.fetch, retry: false, fallback: false, timeout: false, breaker: { failureThreshold: 1, openDuration: 1000, halfOpen: { probes: 2 } } } as const
    const rf = createResilientFetch({ ...options, share: tab() })
    const failed = rf(URL_A)
    await flush()
    c.pending[0]!.respond(500)
    await failed
    vi.setSystemTime(T0 + 1000)
    const calls = [rf(URL_A), rf(URL_A)].map((p) => p.then((r) => r.status, (e: Error) => e.name))
    await vi.advanceTimersByTimeAsync(CLAIM_SETTLE)
    expect(c.pending).toHaveLength(1)
    c.pending[0]!.respond(200)
    expect((await Promise.all(calls)).sort()).toEqual([200, 'CircuitOpenError'])
  })

  it('a page going away frees the probe it claimed (no Web Locks)', async () => {
    const { map } = memoryStorage()
    const window = new EventTarget()
    vi.stubGlobal('addEventListener', window.addEventListener.bind(window))
    vi.stubGlobal('removeEventListener', window.removeEventListener.bind(window))
    const share = tab()
    share.connect(() => {})
    const granted = share.acquireProbe(KEY, 10_000)
    await vi.advanceTimersByTimeAsync(CLAIM_SETTLE)
    expect(await granted).toBe(true)
    expect(map.has(`${name}:probe:${KEY}`)).toBe(true)
    window.dispatchEvent(new Event('pagehide'))
    expect(map.has(`${name}:probe:${KEY}`)).toBe(false)
  })

  it('storage that throws on every access never fails a call; the channel still shares', async () => {
    const { state } = memoryStorage()
    state.broken = true
    const a = statusTransport(500)
    const one = instance(tab(), a.fetch)
    const two = instance(tab(), statusTransport(200).fetch)
    const heard = becomes(two, 'open')
    await trip(one)
    await heard
    await expect(two(URL_A)).rejects.toBeInstanceOf(CircuitOpenError)
    // A reload cannot learn anything, and starts closed.
    expect((await instance(tab(), statusTransport(200).fetch)(URL_A)).status).toBe(200)
  })

  it('a localStorage that throws on access (disabled storage) leaves the share working without it', async () => {
    Object.defineProperty(globalThis, 'localStorage', {
      configurable: true,
      get() {
        throw new DOMException('Access is denied for this document.', 'SecurityError')
      },
    })
    try {
      const one = instance(tab(), statusTransport(500).fetch)
      const two = instance(tab(), statusTransport(200).fetch)
      const heard = becomes(two, 'open')
      await trip(one)
      await heard
      expect(two.breaker(KEY)!.state).toBe('open')
    } finally {
      delete (globalThis as { localStorage?: unknown }).localStorage
    }
  })

  it('a state from the channel that is open with no end or from the future is refused; an adopted open is capped', async () => {
    microtaskChannels()
    memoryStorage()
    const two = instance(tab(), statusTransport(200).fetch)
    await two(URL_A)
    const raw = new BroadcastChannel(name)
    const send = (state: object) => raw.postMessage({ t: 'state', from: 'x', key: KEY, state })
    try {
      send({ state: 'open', at: T0 })
      await flush()
      expect(two.breaker(KEY)!.state).toBe('closed')
      // Adopted, it would also make the tab ignore every real state until then.
      send({ state: 'forced-open', at: T0 + 1e12, openUntil: T0 + 1000 })
      send({ state: 'forced-open', at: T0, openedAt: T0 + 1e12, openUntil: T0 + 1000 })
      await flush()
      expect(two.breaker(KEY)!.state).toBe('closed')
      // openDuration 1 s here: an adopted open lasts at most an hour from its `at`.
      send({ state: 'open', at: T0, openedAt: T0, openUntil: 8.64e15 })
      await flush()
      expect(two.snapshot().breakers[0]).toMatchObject({ state: 'open', nextProbeAt: T0 + 3_600_000 })
    } finally {
      raw.close()
    }
  })

  it('a kept state that lasts past the cap or comes from the future does not open a reload', async () => {
    const { map } = memoryStorage()
    map.set(`${name}:breaker:${KEY}`, JSON.stringify({ state: 'open', at: T0, openedAt: T0, openUntil: 8.64e15 }))
    map.set(`${name}:breaker:https://b.test`, JSON.stringify({ state: 'forced-open', at: T0 + 1e12, openUntil: T0 + 1e12 + 1000 }))
    vi.setSystemTime(T0 + 3_600_000)
    const reloaded = instance(tab(), statusTransport(200).fetch)
    expect((await reloaded(URL_A)).status).toBe(200)
    expect((await reloaded('https://b.test/x')).status).toBe(200)
    expect(map.has(`${name}:breaker:https://b.test`)).toBe(false)
  })

  it('a claim lasting longer than a probe can, heard or in storage, is ignored (no Web Locks)', async () => {
    microtaskChannels()
    const { map } = memoryStorage()
    const share = tab()
    share.connect(() => {})
    map.set(`${name}:probe:https://b.test`, JSON.stringify({ owner: '!', until: 8.64e15 }))
    const raw = new BroadcastChannel(name)
    raw.postMessage({ t: 'claim', from: '!', key: KEY, until: 8.64e15 })
    raw.close()
    await flush()
    const granted = Promise.all([share.acquireProbe(KEY, 1000), share.acquireProbe('https://b.test', 1000)])
    await vi.advanceTimersByTimeAsync(CLAIM_SETTLE)
    expect(await granted).toEqual([true, true])
  })

  it('corrupt or foreign entries are ignored and dropped', () => {
    const { map } = memoryStorage()
    map.set(`${name}:breaker:${KEY}`, '{not json')
    map.set(`${name}:breaker:https://b.test`, JSON.stringify({ state: 'open', at: 'yesterday' }))
    map.set(`${name}:breaker:https://c.test`, JSON.stringify({ state: 'open', at: T0 - 10, openedAt: T0 - 10, openUntil: T0 - 1 }))
    map.set('someone-else', 'kept')
    const share = tab()
    expect(share.initial(KEY)).toBeUndefined()
    share.connect(() => {})
    expect([...map.keys()]).toEqual(['someone-else'])
  })

  it('messages on the channel that are not states are ignored', async () => {
    memoryStorage()
    const two = instance(tab(), statusTransport(200).fetch)
    const seen: string[] = []
    two.addEventListener('statechange', (e) => seen.push(e.detail.to))
    const heard = becomes(two, 'open')
    const raw = new BroadcastChannel(name)
    try {
      raw.postMessage(null)
      raw.postMessage('open')
      raw.postMessage({ t: 'state', from: 'x', key: KEY, state: { state: 'exploded', at: T0 } })
      raw.postMessage({ t: 'state', from: 'x', key: KEY, state: { state: 'open', at: T0, openedAt: T0, openUntil: T0 + 500 } })
      await heard
    } finally {
      raw.close()
    }
    expect(seen).toEqual(['open'])
  })

  it('without BroadcastChannel, storage events carry the state', async () => {
    vi.stubGlobal('BroadcastChannel', undefined)
    // In a browser another document gets the event; here one EventTarget stands for every tab's window.
    const window = new EventTarget()
    vi.stubGlobal('addEventListener', window.addEventListener.bind(window))
    vi.stubGlobal('removeEventListener', window.removeEventListener.bind(window))
    memoryStorage((key, newValue) => window.dispatchEvent(Object.assign(new Event('storage'), { key, newValue })))
    const one = instance(tab(), statusTransport(500).fetch)
    const two = instance(tab(), statusTransport(200).fetch)
    await trip(one)
    expect(two.breaker(KEY)!.state).toBe('open')
    one.breaker(KEY)!.close()
    expect(two.breaker(KEY)!.state).toBe('closed')
  })

  it('without BroadcastChannel, localStorage or Web Locks it is local-only and never throws', async () => {
    vi.stubGlobal('BroadcastChannel', undefined)
    const one = instance(tab(), statusTransport(500).fetch)
    const other = statusTransport(200)
    const two = instance(tab(), other.fetch)
    await trip(one)
    expect(one.breaker(KEY)!.state).toBe('open')
    expect((await two(URL_A)).status).toBe(200)
    const share = tab()
    share.connect(() => {})
    expect(share.initial(KEY)).toBeUndefined()
    expect(await share.acquireProbe(KEY, 100)).toBe(true)
    expect(await shareAcrossTabs().acquireProbe(KEY, 100)).toBe(true)
  })

  it('one share given to two instances of a tab shares between them too', async () => {
    memoryStorage()
    const share = tab()
    const one = instance(share, statusTransport(500).fetch)
    const two = instance(share, statusTransport(200).fetch)
    await trip(one)
    expect(one.breaker(KEY)!.state).toBe('open')
    expect(two.breaker(KEY)!.state).toBe('open')
  })

  it('after close() the tab hears nothing more and frees its probe', async () => {
    memoryStorage()
    const held = fakeLocks()
    const one = instance(tab(), statusTransport(500).fetch)
    const share = tab()
    const two = instance(share, statusTransport(200).fetch)
    expect(await share.acquireProbe(KEY, 10_000)).toBe(true)
    expect(held.size).toBe(1)
    share.close()
    await flush()
    expect(held.size).toBe(0)
    const three = instance(tab(), statusTransport(200).fetch)
    const heard = becomes(three, 'open')
    await trip(one)
    await heard
    // No breaker was created from a message (breaker(KEY) would now show the state kept in storage).
    expect(two.snapshot().breakers).toEqual([])
  })

  it('rejects bad options, naming them', () => {
    expect(() => shareAcrossTabs({ name: '' })).toThrow(new TypeError('shareAcrossTabs options.name must be a non-empty string, got ""'))
    expect(() => shareAcrossTabs({ name: 42 as never })).toThrow(new TypeError('shareAcrossTabs options.name must be a non-empty string, got 42'))
    expect(() => shareAcrossTabs({ channel: 'x' } as never)).toThrow(new TypeError('shareAcrossTabs options.channel is not an option (known: name)'))
    expect(() => shareAcrossTabs('x' as never)).toThrow(new TypeError('shareAcrossTabs options must be an object, got "x"'))
  })
})
