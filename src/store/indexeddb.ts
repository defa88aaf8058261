/**
 * The IndexedDB store itself, its options already checked: what `idbStore()` (the `resilient-fetch/idb` entry) opens,
 * and what the 'auto' store loads. Apart from idb.ts so the 'auto' store's chunk does not carry the option schema:
 * the defaults `idbStore()` checks against are IDB_DEFAULTS (store/idb-defaults.ts). Each operation is one transaction that also keeps a
 * small LRU index record, so eviction never scans values.
 */
import { createStore, promisifyRequest, type UseStore } from 'idb-keyval'
import type { Store, StoreKit } from './backend.js'
import { IDB_DEFAULTS } from './idb-defaults.js'

const STORE_NAME = 'responses'
/** An array key can never collide with an entry's string key. */
const INDEX_KEY = ['lru-index']

/** An IndexedDB store in the database `dbName`, of at most `maxEntries` entries (see `idbStore`); `kit` is backend.ts's STORE_KIT. */
export function indexedDbStore(kit: StoreKit, { dbName, maxEntries } = IDB_DEFAULTS): Store {
  return kit.degrading(() => open(dbName, kit), `idbStore: IndexedDB "${dbName}"`, maxEntries, {
    get: (store, key) =>
      store('readwrite', (objects) =>
        withIndex(objects, (lru, value) => {
          if (value === undefined) return { lru }
          const rest = lru.filter((k) => k !== key)
          if (!kit.isStoredResponse(value)) {
            objects.delete(key)
            return { lru: rest, error: new TypeError(`idbStore: corrupt entry for ${key} deleted`) }
          }
          rest.push(key)
          return { lru: rest, result: value }
        }, key),
      ),
    put: (store, key, entry) =>
      store('readwrite', (objects) =>
        withIndex(objects, (lru) => {
          const next = lru.filter((k) => k !== key)
          next.push(key)
          objects.put(entry, key)
          // A negative count splices nothing.
          for (const old of next.splice(0, next.length - maxEntries)) objects.delete(old)
          return { lru: next }
        }),
      ),
    delete: (store, key) =>
      store('readwrite', (objects) =>
        withIndex(objects, (lru) => {
          objects.delete(key)
          return { lru: lru.filter((k) => k !== key) }
        }),
      ),
    clear: (store) =>
      store('readwrite', (objects) => {
        objects.clear()
        return promisifyRequest(objects.transaction)
      }),
    evict: (store) =>
      store('readwrite', (objects) =>
        withIndex(objects, (lru) => {
          const dropped = lru.slice(0, Math.ceil(lru.length / 2))
          for (const old of dropped) objects.delete(old)
          return { lru: lru.slice(dropped.length) }
        }),
      ),
  })
}

type IndexStep<T> = { lru: string[]; result?: T; error?: unknown }

/**
 * Within one readwrite transaction: reads the LRU index (rebuilt from the keys if missing or damaged) and,
 * when `key` is given, that entry; lets `step` queue its writes; writes the index if `step` returned a new one; settles when the
 * transaction commits (a quota error aborts it and rejects with that error).
 */
function withIndex<T>(objects: IDBObjectStore, step: (lru: string[], value?: unknown) => IndexStep<T>, key?: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const indexRequest = objects.get(INDEX_KEY)
    const valueRequest = key === undefined ? undefined : objects.get(key)
    const done = promisifyRequest(objects.transaction)
    done.catch(reject)
    // Requests in one transaction complete in order, so the value (if asked for) is ready when this runs.
    const proceed = (lru: string[]) => {
      try {
        const outcome = step(lru, valueRequest?.result)
        // A step that returns the same array changed nothing (a miss): no write.
        if (outcome.lru !== lru) objects.put(outcome.lru, INDEX_KEY)
        done.then(() => ('error' in outcome ? reject(outcome.error) : resolve(outcome.result as T)), reject)
      } catch (error) {
        objects.transaction.abort()
        reject(error)
      }
    }
    ;(valueRequest ?? indexRequest).onsuccess = () => {
      const index: unknown = indexRequest.result
      if (Array.isArray(index) && index.every((k) => typeof k === 'string')) return proceed(index)
      const keysRequest = objects.getAllKeys()
      keysRequest.onsuccess = () => proceed(keysRequest.result.filter((k): k is string => typeof k === 'string'))
    }
  })
}

/** Opens (creating if needed) the database, bounded by OPEN_TIMEOUT; rejects where IndexedDB is missing or broken. */
async function open(dbName: string, { openWithin }: StoreKit): Promise<UseStore> {
  let current: UseStore | undefined
  const store: UseStore = (mode, callback, retried?: boolean) => {
    // Where IndexedDB is missing, or indexedDB.open itself throws (SecurityError in sandboxed frames): a rejection here.
    const mine = (current ??= createStore(dbName, STORE_NAME))
    let reached = false
    return mine(mode, (objects) => {
      reached = true
      // Gives way when another connection needs it (the app's deleteDatabase on logout, an upgrade in another tab),
      // which would otherwise wait for this page to close; the next operation finds it closed and opens a new one.
      const db = objects.transaction.db
      db.onversionchange = () => db.close()
      return callback(objects)
    }).catch((error: unknown) => {
      // No transaction could start: the connection was closed, by us (above) or under us with no close event (Safari,
      // a PWA resumed), and would refuse every later one until the page reloads. Once more, on a new connection.
      // (A request or transaction that failed with no error object rejects with null: never a rejection without a reason.)
      if (reached || retried) throw error ?? new Error('IndexedDB failed')
      if (current === mine) current = undefined
      return (store as Function)(mode, callback, true)
    })
  }
  // A first read opens the database and proves the object store is there.
  await openWithin(
    store('readonly', (objects) => promisifyRequest(objects.count())),
    'IndexedDB open',
  )
  return store
}
