/**
 * idbStore's defaults: what its schema (store/idb-options.ts) checks options against and what the 'auto' store opens
 * the IndexedDB store with. Not an export of store/indexeddb.ts: a module the 'auto' store loads with import() keeps
 * every name it exports, bytes in the chunk the default options load.
 */
export const IDB_DEFAULTS = { dbName: 'resilient-fetch', maxEntries: 500 }
