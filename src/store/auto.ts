/** Turns the `fallback.store` option into a store: 'auto' picks the best storage this platform has, on first use. */
import type { FallbackStore } from '../types.js'
import { openWithin, STORE_KIT, type Store } from './backend.js'

/** 'memory' → a memory store; 'auto' → Cache API, else IndexedDB, else memory; a store → itself. */
export function resolveStore(spec: 'auto' | 'memory' | FallbackStore): FallbackStore {
  if (spec === 'memory') return lazyStore(inMemory)
  if (spec === 'auto') return lazyStore(pickStore)
  return spec
}

async function pickStore(): Promise<FallbackStore> {
  if (await cacheApiWorks()) {
    // The stores without their option schemas (the defaults need no checking): a smaller chunk.
    const { cacheApiStore } = await import('./cache-api.js')
    return cacheApiStore(STORE_KIT)
  }
  if (typeof globalThis.indexedDB === 'object' && globalThis.indexedDB !== null) {
    // A dynamic import keeps idb-keyval out of the core bundle.
    const { indexedDbStore } = await import('./indexeddb.js')
    return indexedDbStore(STORE_KIT)
  }
  return inMemory()
}

/** The LRU in memory, loaded as its own chunk: the default path never needs it. */
async function inMemory(): Promise<FallbackStore> {
  const { lruStore } = await import('./lru.js')
  return lruStore()
}

/**
 * Probed, not just detected: Firefox private mode has `caches` but refuses to open one, while IndexedDB works;
 * an open that never settles counts as a refusal.
 */
async function cacheApiWorks(): Promise<boolean> {
  if (typeof globalThis.caches !== 'object' || globalThis.caches === null) return false
  return openWithin(globalThis.caches.open('resilient-fetch'), 'caches.open').then(
    () => true,
    () => false,
  )
}

/** A store that decides what it is on its first call, so creating a resilient fetch touches no storage. */
function lazyStore(pick: () => Promise<FallbackStore>): Store {
  let picked: Promise<FallbackStore> | undefined
  const lazy: Record<string, (...args: unknown[]) => Promise<unknown>> = {}
  // Every store picked here is one of ours, and each can evict.
  for (const name of ['get', 'put', 'delete', 'clear', 'evict']) {
    // A failed pick (a chunk that would not load) still leaves a working store.
    lazy[name] = async (...args) => ((await (picked ??= pick().catch(inMemory))) as unknown as typeof lazy)[name]!(...args)
  }
  return lazy as unknown as Store
}
