/** Turns the `fallback.store` option into a store: 'auto' picks the best storage this platform has, on first use. */
import type { FallbackStore } from '../types.js'
import { inMemory, lruChunk, openWithin, STORE_KIT, type Store } from './backend.js'
import { load, preloaded } from '../preloaded.js'

/**
 * 'memory' → a memory store; 'auto' → Cache API, else IndexedDB, else memory; a store → itself. The chunk a store
 * will need starts loading now (no storage is touched before first use): the first use may be a recall, when the
 * upstream has failed and the network may be down.
 */
export function resolveStore(spec: 'auto' | 'memory' | FallbackStore): FallbackStore {
  if (spec === 'memory') return lazyStore(inMemory(preload(lruChunk)))
  if (spec === 'auto') return lazyStore(autoStore())
  return spec
}

/** The 'auto' pick, with the chunk it will most likely load already loading. */
function autoStore(): () => Promise<FallbackStore> {
  const hasCaches = present(() => globalThis.caches)
  const hasIdb = present(() => globalThis.indexedDB)
  const cacheApi = preload(() => load(preloaded.cacheApi, () => import('./cache-api.js')), hasCaches)
  // A dynamic import keeps idb-keyval out of the core bundle; loaded now only where no Cache API comes first.
  const indexedDb = preload(() => load(preloaded.indexedDb, () => import('./indexeddb.js')), hasIdb && !hasCaches)
  const memory = inMemory(preload(lruChunk, !hasCaches && !hasIdb))
  return async () => {
    // The stores without their option schemas (the defaults need no checking): a smaller chunk.
    if (hasCaches && (await cacheApiWorks())) return (await cacheApi()).cacheApiStore(STORE_KIT)
    if (hasIdb) return (await indexedDb()).indexedDbStore(STORE_KIT)
    return memory()
  }
}

/** Whether a storage global is there; reading it may throw (Firefox: indexedDB in a third-party iframe with cookies blocked). */
function present(read: () => unknown): boolean {
  try {
    const value = read()
    return typeof value === 'object' && value !== null
  } catch {
    return false
  }
}

/** Starts loading a chunk now (unless `now` is false); a load that failed is tried again when the chunk is needed. */
function preload<T>(importer: () => Promise<T>, now = true): () => Promise<T> {
  if (!now) return importer
  const loading = importer()
  loading.catch(() => {})
  return () => loading.catch(importer)
}

/**
 * Probed, not just detected: Firefox private mode has `caches` but refuses to open one, while IndexedDB works;
 * an open that never settles counts as a refusal.
 */
async function cacheApiWorks(): Promise<boolean> {
  try {
    await openWithin(globalThis.caches.open('resilient-fetch'), 'caches.open')
    return true
  } catch {
    return false
  }
}

/** A store that decides what it is on its first call, so creating a resilient fetch touches no storage. */
function lazyStore(pick: () => Promise<FallbackStore>): Store {
  let picked: Promise<FallbackStore> | undefined
  const lazy: Record<string, (...args: unknown[]) => Promise<unknown>> = {}
  // A failed pick (a chunk that would not load) still leaves a working store.
  const fallback = inMemory(lruChunk)
  // Every store picked here is one of ours, and each can evict.
  for (const name of ['get', 'put', 'delete', 'clear', 'evict']) {
    lazy[name] = async (...args) => ((await (picked ??= pick().catch(fallback))) as unknown as typeof lazy)[name]!(...args)
  }
  return lazy as unknown as Store
}
