/** In-memory fallback store: least recently used entries go first, bounded by count and bytes. */
import type { FallbackStore, StoredResponse } from '../types.js'
import type { Evictable } from './entry.js'
import { entrySize } from './size.js'
import { positiveInteger, struct } from '../schema.js'

export interface MemoryStoreOptions {
  /** Entries kept; the least recently used is dropped first. @default 500 */
  maxEntries?: number
  /** Bytes kept (bodies, headers and URLs); an entry larger than this is not stored. @default 50 * 1024 * 1024 */
  maxBytes?: number
}

/** memoryStore's options: each one's check and default. */
export const memoryStoreSchema = struct({ maxEntries: [positiveInteger, 500], maxBytes: [positiveInteger, 50 * 1024 * 1024] })

/** A bounded LRU store in this process's memory: survives nothing, costs nothing, works everywhere. */
export function memoryStore(options?: MemoryStoreOptions): FallbackStore {
  return lruStore(memoryStoreSchema(options, 'memoryStore options'))
}

/** memoryStore with its internal evict(), for stores that degrade to memory. */
function lruStore({ maxEntries, maxBytes }: { maxEntries: number; maxBytes: number }): FallbackStore & Evictable {
  // Map iteration order is insertion order, so re-inserting on use keeps the LRU at the front.
  const entries = new Map<string, { entry: StoredResponse; size: number }>()
  let bytes = 0

  function drop(key: string): void {
    const found = entries.get(key)
    if (found === undefined) return
    entries.delete(key)
    bytes -= found.size
  }

  return {
    async get(key) {
      const found = entries.get(key)
      if (found === undefined) return undefined
      entries.delete(key)
      entries.set(key, found)
      return found.entry
    },
    async put(key, entry) {
      drop(key)
      const size = entrySize(entry)
      if (size > maxBytes) return
      entries.set(key, { entry, size })
      bytes += size
      for (const oldest of entries.keys()) {
        if (entries.size <= maxEntries && bytes <= maxBytes) break
        drop(oldest)
      }
    },
    async delete(key) {
      drop(key)
    },
    async clear() {
      entries.clear()
      bytes = 0
    },
    async evict() {
      let toDrop = Math.ceil(entries.size / 2)
      for (const oldest of entries.keys()) {
        if (toDrop-- <= 0) break
        drop(oldest)
      }
    },
  }
}

/** Where a store's backend may be missing or broken: the backend, opened lazily once, or memory after that failed. */
export interface Degrading<B> {
  /** Runs on the backend; the call that finds it unusable rejects with the reason, every later call runs in memory. */
  run<T>(inBackend: (backend: B) => Promise<T>, inMemory: (memory: FallbackStore & Evictable) => Promise<T>): Promise<T>
}

export function degrading<B>(open: () => Promise<B>, what: string, maxEntries: number): Degrading<B> {
  let opening: Promise<B> | undefined
  let memory: (FallbackStore & Evictable) | undefined
  return {
    async run(inBackend, inMemory) {
      if (memory !== undefined) return inMemory(memory)
      opening ??= open()
      let backend: B
      try {
        backend = await opening
      } catch (error) {
        memory ??= lruStore(memoryStoreSchema({ maxEntries }, 'memoryStore options'))
        throw new Error(`${what} is unavailable, keeping fallback copies in memory`, { cause: error })
      }
      return inBackend(backend)
    },
  }
}

/** Firefox private mode, blocked upgrades and broken profiles can leave an open pending forever; give up after this. */
export const OPEN_TIMEOUT = 2_000

/** Settles as `opening` does, or rejects naming `what` once OPEN_TIMEOUT passes. */
export function openWithin<T>(opening: Promise<T>, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what} did not finish within ${OPEN_TIMEOUT} ms`)), OPEN_TIMEOUT)
    opening.then(
      (value) => {
        clearTimeout(timer)
        resolve(value)
      },
      (error: unknown) => {
        clearTimeout(timer)
        reject(error)
      },
    )
  })
}
