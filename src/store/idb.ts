/**
 * IndexedDB fallback store (the `resilient-fetch/idb` entry), on idb-keyval: its options are checked here, the
 * store itself is indexeddb.ts.
 */
import type { FallbackStore } from '../types.js'
import { idbStoreSchema } from './idb-options.js'
import { indexedDbStore } from './indexeddb.js'
import { STORE_KIT } from './backend.js'

export interface IdbStoreOptions {
  /** The IndexedDB database; one object store inside it holds the entries. @default 'resilient-fetch' */
  dbName?: string
  /** Entries kept; the least recently used is deleted first. @default 500 */
  maxEntries?: number
}

/**
 * A bounded IndexedDB store. Where IndexedDB is missing, or its open fails or hangs, it keeps its copies in memory
 * instead, the copy of the operation that found out too, which then rejects with the reason.
 * Corrupt entries are deleted when found (the read rejects, naming the key).
 */
export function idbStore(options?: IdbStoreOptions): FallbackStore {
  const checked = idbStoreSchema(options, 'idbStore options')
  // Its scope: a clear() of any instance on this database, in any tab or worker, drops the copies in flight in all (src/fallback.ts).
  return Object.assign(indexedDbStore(STORE_KIT, checked), { scope: `idb:${checked.dbName}` })
}
