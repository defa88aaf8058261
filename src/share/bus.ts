/**
 * The message bus between the tabs of one origin: a BroadcastChannel, or where there is none, storage
 * events on one localStorage key. Messages are checked on arrival; a tab never hears its own.
 */
import type { SharedBreakerState } from '../types.js'
import { finite, isView, type SafeStorage } from './persist.js'
import { now } from '../clock.js'

export type Message =
  | { t: 'state'; from: string; key: string; state: SharedBreakerState }
  | { t: 'claim'; from: string; key: string; until: number }
  | { t: 'release'; from: string; key: string }
  /** A tab that starts asks the live tabs for the states they know. */
  | { t: 'hello'; from: string }

export interface Bus {
  /** Starts listening; false when neither a channel nor storage events can carry messages. */
  open(): boolean
  /** Best effort: a closed or unusable channel leaves this tab local-only. */
  send(message: Message): void
  close(): void
}

export type WindowEvents = Pick<Window, 'addEventListener' | 'removeEventListener'>

/** The window's events (storage, pagehide, pageshow), where the global scope is an event target. */
export function windowEvents(): WindowEvents | undefined {
  const g = globalThis as Partial<WindowEvents>
  return typeof g.addEventListener === 'function' && typeof g.removeEventListener === 'function' ? (g as WindowEvents) : undefined
}

/**
 * A bus named `name` for the tab `id`; `receive` gets every valid message from another tab. A page kept for Back (the
 * back/forward cache) leaves the bus while it is away: a message to a page in that cache evicts it (Chromium:
 * BroadcastChannelOnMessage), and the next page of the app on the share sends one as it starts. Back, the page joins
 * again, and `rejoined` catches up on what it missed.
 */
export function createBus(name: string, id: string, storage: SafeStorage | undefined, receive: (message: Message) => void, rejoined: () => void): Bus {
  const messageKey = `${name}:message`
  let channel: BroadcastChannel | undefined
  let onStorage: ((event: StorageEvent) => void) | undefined
  let sent = 0
  let away = false
  const onHide = (event: PageTransitionEvent) => {
    if (!event.persisted) return
    leave()
    away = true
  }
  const onShow = (event: PageTransitionEvent) => {
    if (!event.persisted || !away) return
    away = false
    join()
    rejoined()
  }

  function deliver(data: unknown): void {
    const m = asMessage(data)
    if (m !== undefined && m.from !== id) receive(m)
  }

  function listenToStorage(): boolean {
    const target = windowEvents()
    if (storage === undefined || target === undefined) return false
    onStorage = (event) => {
      if (event.key !== messageKey || event.newValue === null) return
      try {
        deliver(JSON.parse(event.newValue))
      } catch {
        // Corrupt message: ignored.
      }
    }
    target.addEventListener('storage', onStorage)
    return true
  }

  function join(): boolean {
    if (typeof BroadcastChannel === 'function') {
      try {
        channel = new BroadcastChannel(name)
        channel.onmessage = (event: MessageEvent) => deliver(event.data)
        // Node, Deno and Bun: a share must not keep the process alive.
        ;(channel as { unref?: () => void }).unref?.()
        return true
      } catch {
        channel = undefined
      }
    }
    return listenToStorage()
  }

  function leave(): void {
    channel?.close()
    channel = undefined
    if (onStorage !== undefined) {
      windowEvents()?.removeEventListener('storage', onStorage)
      onStorage = undefined
    }
  }

  return {
    open() {
      const target = windowEvents()
      target?.addEventListener('pagehide', onHide)
      target?.addEventListener('pageshow', onShow)
      return join()
    },

    send(message) {
      if (channel !== undefined) {
        try {
          channel.postMessage(message)
        } catch {
          // A closed or unusable channel leaves this tab local-only.
        }
      } else if (storage !== undefined && onStorage !== undefined) {
        // The counter makes every message a change, so other tabs get a storage event even for a repeat.
        storage.write(messageKey, JSON.stringify({ ...message, n: ++sent }))
      }
    },

    close() {
      const target = windowEvents()
      target?.removeEventListener('pagehide', onHide)
      target?.removeEventListener('pageshow', onShow)
      away = false
      leave()
    },
  }
}

function asMessage(v: unknown): Message | undefined {
  if (typeof v !== 'object' || v === null) return undefined
  const m = v as Record<string, unknown>
  if (typeof m.from !== 'string') return undefined
  if (m.t === 'hello') return { t: 'hello', from: m.from }
  if (typeof m.key !== 'string') return undefined
  if (m.t === 'state' && isView(m.state, now())) return { t: 'state', from: m.from, key: m.key, state: m.state }
  if (m.t === 'claim' && finite(m.until)) return { t: 'claim', from: m.from, key: m.key, until: m.until }
  if (m.t === 'release') return { t: 'release', from: m.from, key: m.key }
  return undefined
}
