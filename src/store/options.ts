/**
 * The options of idbStore and cacheStore, as schemas: each option's check and default (the defaults are the
 * stores' own, which the 'auto' store opens with unchecked). Apart from the stores' own files, which are package
 * entries that export the stores only.
 */
import { nonEmptyString, positiveInteger, struct } from '../schema.js'
import { CACHE_API_DEFAULTS } from './cache-api.js'
import { IDB_DEFAULTS } from './indexeddb.js'

/** idbStore's options. */
export const idbStoreSchema = struct({ dbName: [nonEmptyString, IDB_DEFAULTS.dbName], maxEntries: [positiveInteger, IDB_DEFAULTS.maxEntries] })

/** cacheStore's options. */
export const cacheStoreSchema = struct({ cacheName: [nonEmptyString, CACHE_API_DEFAULTS.cacheName], maxEntries: [positiveInteger, CACHE_API_DEFAULTS.maxEntries] })
