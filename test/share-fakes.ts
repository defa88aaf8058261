/**
 * Stand-ins for what shareAcrossTabs uses in a browser (localStorage, Web Locks, BroadcastChannel), stubbed as
 * globals: every share made in the process afterwards is one tab of one origin.
 */
import { afterEach, beforeEach, vi } from 'vitest'
import { shareAcrossTabs, type TabShare } from '../src/share/tabs.js'

/** localStorage as a Map; `broken` makes every method throw like a full or disabled storage. */
export function memoryStorage(onSet?: (key: string, value: string | null) => void) {
  const map = new Map<string, string>()
  const state = { broken: false }
  const check = () => {
    if (state.broken) throw new DOMException('The quota has been exceeded.', 'QuotaExceededError')
  }
  const storage = {
    get length() {
      check()
      return map.size
    },
    key: (i: number) => (check(), [...map.keys()][i] ?? null),
    getItem: (k: string) => (check(), map.get(k) ?? null),
    setItem(k: string, v: string) {
      check()
      map.set(k, String(v))
      onSet?.(k, String(v))
    },
    removeItem(k: string) {
      check()
      map.delete(k)
      onSet?.(k, null)
    },
    clear: () => (check(), map.clear()),
  }
  vi.stubGlobal('localStorage', storage)
  return { map, state }
}

/** Web Locks with the semantics the share relies on: exclusive, ifAvailable answers null when held. */
export function fakeLocks() {
  const held = new Set<string>()
  const locks = {
    async request(lockName: string, options: { ifAvailable?: boolean }, callback: (lock: { name: string } | null) => unknown) {
      if (held.has(lockName)) {
        if (!options.ifAvailable) throw new Error('the fake only answers ifAvailable requests')
        return callback(null)
      }
      held.add(lockName)
      try {
        return await callback({ name: lockName })
      } finally {
        held.delete(lockName)
      }
    },
  }
  vi.stubGlobal('navigator', { locks })
  return held
}

/** One message posted and not yet delivered: from one channel to another of its name. */
export interface Posted {
  /** Posting order, over every channel. */
  readonly seq: number
  readonly from: number
  readonly to: number
  readonly data: unknown
}

/**
 * A BroadcastChannel whose messages wait until the test delivers them. As the HTML standard has it, a message posted is
 * queued at once at every other channel of its name, so each channel receives every message in the order they were
 * posted, whoever sent them; but each receives them when the test says, so one tab may lag behind another for as long
 * as the test likes. A message already posted when its sender closes is still delivered; one to a channel that has
 * closed is dropped. Channels are numbered in the order they are made.
 */
export function heldChannels() {
  interface Channel {
    readonly n: number
    readonly name: string
    onmessage: ((event: MessageEvent) => void) | null
  }
  const open = new Map<number, Channel>()
  let pending: Posted[] = []
  let made = 0
  let seq = 0
  class HeldChannel implements Channel {
    onmessage: ((event: MessageEvent) => void) | null = null
    readonly n = made++
    constructor(readonly name: string) {
      open.set(this.n, this)
    }
    postMessage(data: unknown): void {
      if (!open.has(this.n)) throw new DOMException('BroadcastChannel is closed.', 'InvalidStateError')
      for (const other of open.values()) if (other !== this && other.name === this.name) pending.push({ seq: seq++, from: this.n, to: other.n, data: structuredClone(data) })
    }
    close(): void {
      open.delete(this.n)
      pending = pending.filter((m) => m.to !== this.n)
    }
  }
  vi.stubGlobal('BroadcastChannel', HeldChannel)
  /** The first message waiting at each channel: the ones that may arrive next. */
  const deliverable = () => pending.filter((m) => !pending.some((o) => o.to === m.to && o.seq < m.seq))
  return {
    /** Channels not closed, by number. */
    open: (): number[] => [...open.keys()],
    pending: (): readonly Posted[] => pending,
    deliverable,
    /** Delivers `message` (one of `deliverable()`) to its channel, synchronously. */
    deliver(message: Posted): void {
      pending = pending.filter((m) => m !== message)
      open.get(message.to)?.onmessage?.({ data: message.data } as MessageEvent)
    },
  }
}

/** A BroadcastChannel that delivers each message to the other channels of its name in a microtask, in send order, so a test can flush() instead of waiting on real I/O. */
export function microtaskChannels(): void {
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

/**
 * A tab-share suite's set-up: fake time from `t0`, a share name of its own for each test (`rf-<prefix>-N`, read with
 * `name()`; `tab(other)` makes a tab of another name), and after each test every tab `tab()` made closed and the stubbed globals restored.
 */
export function tabSuite(prefix: string, t0: number): { tab: (named?: string) => TabShare; name: () => string } {
  let name = ''
  let run = 0
  const tabs: TabShare[] = []
  beforeEach(() => {
    vi.useFakeTimers({ now: t0 })
    name = `rf-${prefix}-${++run}`
  })
  afterEach(() => {
    for (const tab of tabs.splice(0)) tab.close()
    vi.unstubAllGlobals()
    vi.useRealTimers()
  })
  const tab = (named = name): TabShare => {
    const share = shareAcrossTabs({ name: named })
    tabs.push(share)
    return share
  }
  return { tab, name: () => name }
}
