/**
 * The chunks an entry loaded up front (the `resilient-fetch/service-worker` entry loads every one: a Service Worker
 * refuses import()). Each place that loads a chunk asks here first and calls its import() only for a chunk not here,
 * so the import() stays in place and bundlers still split the main entry.
 */
export interface Preloaded {
  fallback?: typeof import('./fallback.js')
  hedge?: typeof import('./stages/hedge.js')
  throttle?: typeof import('./stages/throttle.js')
  coalesce?: typeof import('./stages/coalesce.js')
  lru?: typeof import('./store/lru.js')
  cacheApi?: typeof import('./store/cache-api.js')
  indexedDb?: typeof import('./store/indexeddb.js')
}

export const preloaded: Preloaded = {}

/**
 * `module` when an entry loaded it up front, else what `importer` (its import()) gives. Where import() is refused (a
 * Service Worker: the only scope with a ServiceWorkerGlobalScope), the rejection says what to import instead.
 */
export const load = <T>(module: T | undefined, importer: () => Promise<T>): Promise<T> =>
  module
    ? Promise.resolve(module)
    : importer().catch((error: unknown) => {
        throw 'ServiceWorkerGlobalScope' in globalThis
          ? new TypeError("Service Workers refuse import(): use 'resilient-fetch/service-worker'", { cause: error })
          : error
      })

/** Says once, on the console, that `name` is off: its chunk would not load (no event fits: `storeerror` is the store's). */
export const off = (name: string, error: unknown): void => console.warn(`resilient-fetch: ${name} is off:`, error)
