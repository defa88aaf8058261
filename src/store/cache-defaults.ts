/**
 * cacheStore's defaults: what its schema (store/cache-options.ts) checks options against and what the 'auto' store
 * opens the Cache API store with. Not an export of store/cache-api.ts: a module the 'auto' store loads with import()
 * keeps every name it exports, bytes in the chunk the default options load.
 */
export const CACHE_API_DEFAULTS = { cacheName: 'resilient-fetch', maxEntries: 500 }
