/**
 * The options of idbStore and cacheStore, as schemas: each option's check and default. Apart from the
 * stores' own files, which are package entries that export the stores only.
 */
import { nonEmptyString, positiveInteger, struct } from '../schema.js'

/** idbStore's options. */
export const idbStoreSchema = struct({ dbName: [nonEmptyString, 'resilient-fetch'], maxEntries: [positiveInteger, 500] })

/** cacheStore's options. */
export const cacheStoreSchema = struct({ cacheName: [nonEmptyString, 'resilient-fetch'], maxEntries: [positiveInteger, 500] })
