/** Turns the `fallback.store` option into a store: 'auto' picks the best storage this platform has, on first use. */
import type { FallbackStore } from '../types.js'
import { inMemory, lruChunk, finishWithin, STORE_KIT, type Store } from './backend.js'
import { load, preloaded } from '../preloaded.js'

/**
 * 'memory' → a memory store; 'auto' → Cache API, else IndexedDB, else memory; a store → itself. The chunk a store
 * will need starts loading now (no storage is touched before first use): the first use may be a recall, when the
 * upstream has failed and the network may be down.
 */
export function resolveStore(spec: 'auto' | 'memory' | FallbackStore): FallbackStore {
  if (typeof spec !== 'string') return spec
  // 'memory' is the pick where there is no storage.
  const hasCaches = spec === 'auto' && present(() => globalThis.caches)
  const hasIdb = spec === 'auto' && present(() => globalThis.indexedDB)
  const cacheApi = preload(() => load(preloaded.cacheApi, () => import('./cache-api.js')), hasCaches)
  // A dynamic import keeps idb-keyval out of the core bundle; loaded now only where no Cache API comes first.
  const indexedDb = preload(() => load(preloaded.indexedDb, () => import('./indexeddb.js')), hasIdb && !hasCaches)
  const memory = inMemory(preload(lruChunk, !hasCaches && !hasIdb))
  const pick = async () => {
    // The stores without their option schemas (the defaults need no checking): a smaller chunk.
    if (hasCaches && (await cacheApiWorks())) return (await cacheApi()).cacheApiStore(STORE_KIT)
    if (hasIdb) return (await indexedDb()).indexedDbStore(STORE_KIT)
    return memory()
  }
  return lazyStore(pick, memory)
}

/** Whether a storage global is there; reading it may throw (Firefox: indexedDB in a third-party iframe with cookies blocked). */
export function present(read: () => unknown): boolean {
  try {
    const value = read()
    return typeof value === 'object' && value !== null
  } catch {
    return false
  }
}

/** Starts loading a chunk at once when `now`; a load that failed is tried again when the chunk is needed. */
function preload<T>(importer: () => Promise<T>, now: boolean): () => Promise<T> {
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
    await finishWithin(globalThis.caches.open('resilient-fetch'), 'caches.open')
    return true
  } catch {
    return false
  }
}

/** A store that decides what it is on its first call, so creating a resilient fetch touches no storage; `memory` when the pick fails. */
function lazyStore(pick: () => Promise<FallbackStore>, memory: () => Promise<Store>): Store {
  let picked: Promise<FallbackStore> | undefined
  const lazy: Record<string, (...args: unknown[]) => Promise<unknown>> = {}
  // Every store picked here is one of ours, and each can evict. A failed pick (a chunk that would not load) still leaves a working store.
  for (const name of ['get', 'put', 'delete', 'clear', 'evict']) {
    lazy[name] = async (...args) => ((await (picked ??= pick().catch(memory))) as unknown as typeof lazy)[name]!(...args)
  }
  return lazy as unknown as Store
}
