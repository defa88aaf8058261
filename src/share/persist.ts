/**
 * Persistence for the tab share: localStorage behind a wrapper that never throws (private mode,
 * quota, disabled storage), and the breaker states kept there until their open window ends.
 */
import type { BreakerState, SharedBreakerState } from '../types.js'
import { now } from '../clock.js'

/** localStorage, best effort: every method swallows what storage throws. */
export interface SafeStorage {
  /** The parsed value, or undefined (missing, or corrupt: then removed). */
  read(key: string): unknown
  write(key: string, value: string): void
  remove(key: string): void
  /** Removes the entries under `prefix` whose `until(value)` is missing or not after `t`. */
  sweep(prefix: string, until: (value: unknown) => number | undefined, t: number): void
  /** The keys under `prefix`, or undefined when storage cannot be listed (it throws): not the same as none stored. */
  keys(prefix: string): string[] | undefined
}

/** The origin's localStorage, or undefined where it is missing or reading it throws (sandboxed frames, blocked cookies). */
export function safeStorage(): SafeStorage | undefined {
  let storage: Storage | undefined
  try {
    const s = (globalThis as { localStorage?: Storage }).localStorage
    storage = s !== undefined && s !== null && typeof s.getItem === 'function' ? s : undefined
  } catch {
    storage = undefined
  }
  if (storage === undefined) return undefined
  const local = storage

  function remove(key: string): void {
    try {
      local.removeItem(key)
    } catch {
      // Storage is best effort.
    }
  }

  function read(key: string): unknown {
    try {
      const raw = local.getItem(key)
      return raw === null ? undefined : JSON.parse(raw)
    } catch {
      remove(key)
      return undefined
    }
  }

  function keys(prefix: string): string[] | undefined {
    const ours: string[] = []
    try {
      for (let i = 0; i < local.length; i++) {
        const k = local.key(i)
        if (k !== null && k.startsWith(prefix)) ours.push(k)
      }
    } catch {
      // Storage is best effort, but a caller dropping what storage lacks must not take "cannot list" for "none".
      return undefined
    }
    return ours
  }

  return {
    read,
    remove,
    keys,
    write(key, value) {
      try {
        local.setItem(key, value)
      } catch {
        // Quota or disabled storage: the share goes on without persistence.
      }
    },
    sweep(prefix, until, t) {
      // Read after listing: read() removes corrupt entries, which would shift the indexes keys() walks.
      for (const k of keys(prefix) ?? []) {
        const end = until(read(k))
        if (end === undefined || end <= t) remove(k)
      }
    },
  }
}

/** Breaker states kept across reloads: an open (or timed forced-open) state until its window ends. */
export interface PersistedStates {
  /** The kept state of `key` while its window lasts; a passed or damaged one is removed. */
  stored(key: string): SharedBreakerState | undefined
  /** Keeps an open state with an end; forgets any other (closed, or forced open with no end). */
  keep(key: string, state: SharedBreakerState): void
  /** Drops states whose window has passed, left by tabs that closed while open. */
  sweep(): void
  /** Every kept state whose window lasts, by key. */
  all(): [string, SharedBreakerState][]
}

export function persistedStates(storage: SafeStorage | undefined, name: string): PersistedStates {
  const prefix = `${name}:breaker:`
  function stored(key: string): SharedBreakerState | undefined {
    const value = storage?.read(prefix + key)
    if (value === undefined) return undefined
    const t = now()
    const end = keptUntil(value, t)
    if (end === undefined || end <= t) {
      storage?.remove(prefix + key)
      return undefined
    }
    return value as SharedBreakerState
  }
  return {
    stored,
    keep(key, state) {
      const open = state.state === 'open' || state.state === 'forced-open'
      if (open && state.openUntil !== undefined) storage?.write(prefix + key, JSON.stringify(state))
      else storage?.remove(prefix + key)
    },
    sweep() {
      const t = now()
      storage?.sweep(prefix, (value) => keptUntil(value, t), t)
    },
    all() {
      return (storage?.keys(prefix) ?? []).flatMap((k) => {
        const key = k.slice(prefix.length)
        const state = stored(key)
        return state === undefined ? [] : [[key, state] as [string, SharedBreakerState]]
      })
    },
  }
}

/**
 * The end of a kept state read at `t`: only what keep() writes, an open or forced open with an end. Anything else there
 * (a disable, a close: a foreign or damaged record) is refused, or a reload would start with the breaker turned off.
 */
function keptUntil(v: unknown, t: number): number | undefined {
  return isView(v, t) && (v.state === 'open' || v.state === 'forced-open') ? v.openUntil : undefined
}

const STATES: readonly BreakerState[] = ['closed', 'open', 'half-open', 'forced-open', 'disabled']

export const finite = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v)

/**
 * How far in the future another tab's `at` (or `openedAt`) may be. Tabs read one system clock; more than this is a
 * damaged or foreign state, which would make this tab ignore every real one until then.
 */
export const MAX_SKEW_MS = 10_000

/**
 * Whether a value from storage or the channel, at `t`, is a breaker state we can adopt: well formed,
 * not from the future, and an open one with an end (only a forced open may have none; storage
 * never keeps one). The breaker caps how long an adopted open lasts.
 */
export function isView(v: unknown, t: number): v is SharedBreakerState {
  if (typeof v !== 'object' || v === null) return false
  const s = v as Record<string, unknown>
  return (
    STATES.includes(s.state as BreakerState) &&
    finite(s.at) &&
    s.at <= t + MAX_SKEW_MS &&
    (s.openedAt === undefined || (finite(s.openedAt) && s.openedAt <= t + MAX_SKEW_MS)) &&
    (s.openUntil === undefined ? s.state !== 'open' : finite(s.openUntil))
  )
}
