/**
 * The least-recently-used store in memory, bounded by count and bytes: what memoryStore() loads on first use, and what
 * 'memory', 'auto' without storage and a broken browser store keep their copies in. Apart from memory.ts, which the main
 * entry exports: a file both import statically would load up front with the core.
 */
import type { FallbackStore, StoredResponse } from '../types.js'
import type { Evictable } from './entry.js'

/** memoryStore's defaults, written again here (importing its schema would load it up front); a test holds them to the schema. */
export const LRU_DEFAULTS = { maxEntries: 500, maxBytes: 50 * 1024 * 1024 }

export function lruStore(maxEntries = LRU_DEFAULTS.maxEntries, maxBytes = LRU_DEFAULTS.maxBytes): FallbackStore & Evictable {
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
      const size = entrySize(entry)
      // Too large to keep: the copy before it stays, as the fallback keeps it for a body over maxBodyBytes.
      if (size > maxBytes) return
      drop(key)
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

/** Rough bytes an entry takes: body plus headers and URL, for stores bounded by size. */
function entrySize(entry: StoredResponse): number {
  let size = entry.body.byteLength + entry.url.length + entry.statusText.length + 16
  for (const [name, value] of entry.headers) size += name.length + value.length + 4
  return size
}
