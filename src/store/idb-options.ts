/**
 * idbStore's options as a schema: each option's check and default (the defaults are the store's own, which the
 * 'auto' store opens with unchecked). A file of its own, so that `resilient-fetch/idb` loads no Cache API code.
 */
import { nonEmptyString, positiveInteger, struct } from '../schema.js'
import { IDB_DEFAULTS } from './idb-defaults.js'

/** idbStore's options. */
export const idbStoreSchema = struct({ dbName: [nonEmptyString, IDB_DEFAULTS.dbName], maxEntries: [positiveInteger, IDB_DEFAULTS.maxEntries] })
