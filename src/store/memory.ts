/** In-memory fallback store: least recently used entries go first, bounded by count and bytes. */
import type { FallbackStore } from '../types.js'
import type { Evictable } from './entry.js'
import { positiveInteger, struct } from '../schema.js'
import { load, preloaded } from '../preloaded.js'

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
  const { maxEntries, maxBytes } = memoryStoreSchema(options, 'memoryStore options')
  // The LRU loads on first use: the fallback chunk uses it too, and a file the main entry imports statically loads up front.
  let loading: Promise<FallbackStore & Evictable> | undefined
  const lru = () => (loading ??= load(preloaded.lru, () => import('./lru.js')).then((m) => m.lruStore(maxEntries, maxBytes)))
  const store: FallbackStore & Evictable = {
    get: async (key) => (await lru()).get(key),
    put: async (key, entry) => (await lru()).put(key, entry),
    delete: async (key) => (await lru()).delete(key),
    clear: async () => (await lru()).clear(),
    evict: async () => (await lru()).evict(),
  }
  return store
}
