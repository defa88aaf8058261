/**
 * Cache API fallback store (the `resilient-fetch/cache` entry), for browsers and Cloudflare Workers: its options are
 * checked here, the store itself is cache-api.ts.
 */
import type { FallbackStore } from '../types.js'
import { cacheStoreSchema } from './cache-options.js'
import { cacheApiStore } from './cache-api.js'
import { STORE_KIT } from './backend.js'

export interface CacheStoreOptions {
  /** The cache opened with `caches.open`. @default 'resilient-fetch' */
  cacheName?: string
  /** Entries this store keeps track of; the least recently used is deleted first. @default 500 */
  maxEntries?: number
}

/**
 * A Cache API store. Where `caches` is missing, or `caches.open` fails (Firefox private mode, insecure
 * origins) or does not settle within 2 s, it keeps its copies in memory, the copy of the operation that found out
 * too, which then rejects with the reason.
 * In Workers the cache has no working `keys()`: eviction and `clear()` cover the keys this isolate has written.
 */
export function cacheStore(options?: CacheStoreOptions): FallbackStore {
  const checked = cacheStoreSchema(options, 'cacheStore options')
  // Its scope: a clear() of any instance on this cache, in any tab or worker, drops the copies in flight in all (src/fallback.ts).
  return Object.assign(cacheApiStore(STORE_KIT, checked), { scope: `cache:${checked.cacheName}` })
}
