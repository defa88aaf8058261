/**
 * cacheStore's options as a schema: each option's check and default (the defaults are the store's own, which the
 * 'auto' store opens with unchecked). A file of its own, so that `resilient-fetch/cache` loads no IndexedDB code.
 */
import { nonEmptyString, positiveInteger, struct } from '../schema.js'
import { CACHE_API_DEFAULTS } from './cache-defaults.js'

/** cacheStore's options. */
export const cacheStoreSchema = struct({ cacheName: [nonEmptyString, CACHE_API_DEFAULTS.cacheName], maxEntries: [positiveInteger, CACHE_API_DEFAULTS.maxEntries] })
