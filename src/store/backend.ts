/**
 * What the fallback and the browser stores share (it loads with the fallback's chunk; the stores get their part as
 * STORE_KIT): the shape a stored entry must have when read back, a bound on a backend that may hang, and memory once
 * the backend proves unusable.
 */
import type { FallbackStore, StoredResponse } from '../types.js'
import type { Evictable } from './entry.js'
import { within } from '../within.js'
import { load, preloaded } from '../preloaded.js'

/** A store of ours: each can evict. */
export type Store = FallbackStore & Evictable

/** A store's methods, each run on the backend it is handed first. */
export type OnBackend<B> = { [K in keyof Store]: (backend: B, ...args: Parameters<Store[K]>) => ReturnType<Store[K]> }

/**
 * A store on a backend that may be missing or broken, opened lazily once: each method runs on it; once it proves
 * unusable, on a store in memory, the call that found out included (its copy is kept), which then rejects once with the
 * reason. The stores write only what runs on the backend; the memory side is this one loop, not a second copy of each method.
 */
export function degrading<B>(open: () => Promise<B>, what: string, maxEntries: number, onBackend: OnBackend<B>): Store {
  let opening: Promise<B> | undefined
  let memory: Promise<Methods> | undefined
  // Why the backend is unusable, until a call has rejected with it.
  let untold: Error | undefined
  const lost = (error: unknown): undefined => {
    // Calls that waited on the same open find out together: one switches, and one tells.
    if (memory) return
    memory = inMemory(lruChunk, maxEntries)() as unknown as Promise<Methods>
    untold = new Error(`${what} is unavailable, keeping fallback copies in memory`, { cause: error })
  }
  const calls = onBackend as unknown as Record<string, (backend: B, ...a: unknown[]) => Promise<unknown>>
  const store: Methods = {}
  for (const name in onBackend) {
    store[name] = async (...args) => {
      const backend = memory ? undefined : await (opening ??= open()).catch(lost)
      if (backend !== undefined) return calls[name]!(backend, ...args)
      // Done in memory first, then told: as kvStore without a binding (store/kv.ts).
      const value = await (await memory!)[name]!(...args)
      const reason = untold
      untold = undefined
      if (reason) throw reason
      return value
    }
  }
  return store as unknown as Store
}

/** The LRU's chunk: memory for a store whose backend failed, and for 'memory' or 'auto' without storage (store/auto.ts). */
export const lruChunk = () => load(preloaded.lru, () => import('./lru.js'))

/** The LRU in memory, from `lru` (its chunk, loading or not): the default path in a browser never needs it. */
export const inMemory = (lru: typeof lruChunk, maxEntries?: number) => async (): Promise<Store> => (await lru()).lruStore(maxEntries)

/** A store's methods by name, as the loop above calls them. */
type Methods = Record<string, (...args: unknown[]) => Promise<unknown>>

/** Firefox private mode, blocked upgrades and broken profiles can leave an open pending forever; give up after this. */
export const OPEN_TIMEOUT = 2_000

/** Settles as `work` does, or rejects naming `what` once `ms` pass (OPEN_TIMEOUT: an open), or with `signal`'s reason when it aborts. */
export function finishWithin<T>(work: Promise<T>, what: string, ms = OPEN_TIMEOUT, signal?: AbortSignal): Promise<T> {
  return within(work, ms, `${what} did not finish within ${ms} ms`, signal)
}

/** Internal header recording the request's values of the headers named in `Vary`; never served. */
export const VARY_HEADER = 'x-resilient-vary'

/**
 * Whether a value read back from storage is a whole StoredResponse that can become a Response again
 * (storage can hold anything, and a lax runtime may have let through what a browser's Response refuses).
 */
export function isStoredResponse(value: unknown): value is StoredResponse {
  const entry = value as Record<string, unknown> | null | undefined
  return (
    typeof entry?.url === 'string' &&
    Number.isInteger(entry.status) &&
    (entry.status as number) >= 200 &&
    (entry.status as number) <= 599 &&
    typeof entry.statusText === 'string' &&
    REASON_PHRASE.test(entry.statusText) &&
    Array.isArray(entry.headers) &&
    entry.headers.every(isHeader) &&
    // By tag, not instanceof: entries can come back from another realm (structured clone, workers).
    Object.prototype.toString.call(entry.body) === '[object ArrayBuffer]' &&
    // A null-body status (204, 205, 304) with a body is refused by the Response constructor.
    !(NULL_BODY_STATUSES.has(entry.status as number) && (entry.body as ArrayBuffer).byteLength > 0) &&
    Number.isFinite(entry.storedAt)
  )
}

export const NULL_BODY_STATUSES = new Set([204, 205, 304])
/** RFC 9110 field-name (a token: ! #$%&' * + . ^_` | ~ - letters digits) and field-value (no NUL, CR or LF), and reason-phrase. */
const TOKEN = /^[!#-'*+.^-`|~\w-]+$/
const FIELD_VALUE = /^[^\0\r\n]*$/
const REASON_PHRASE = /^[\t -~\x80-\xff]*$/

/** A pair of strings; with `nullable`, the second may be null. */
const isPair = (pair: unknown, nullable?: boolean): pair is [string, string] =>
  Array.isArray(pair) && pair.length === 2 && typeof pair[0] === 'string' && (typeof pair[1] === 'string' || (nullable === true && pair[1] === null))

function isHeader(pair: unknown): boolean {
  return isPair(pair) && TOKEN.test(pair[0]) && FIELD_VALUE.test(pair[1]) && (pair[0].toLowerCase() !== VARY_HEADER || varyRecordOf(pair[1]) !== undefined)
}

/** The request header values an entry's Vary record holds, or undefined when the record is damaged. */
export function varyRecordOf(recorded: string): [string, string | null][] | undefined {
  try {
    const record: unknown = JSON.parse(decodeURIComponent(recorded))
    return Array.isArray(record) && record.every((pair) => isPair(pair, true)) ? (record as [string, string | null][]) : undefined
  } catch {
    return undefined
  }
}

/**
 * What the browser stores (store/cache-api.ts, store/indexeddb.ts) use of this module, handed to them by whoever opens
 * them rather than imported: the 'auto' store opens them from the fallback's chunk, which holds this module already;
 * were it imported by them too, it would load as a chunk of its own (about 300 B min+gzip more with the default options).
 */
export const STORE_KIT = { degrading, openWithin: finishWithin, isStoredResponse }

export type StoreKit = typeof STORE_KIT
