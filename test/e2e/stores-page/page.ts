/** The stores, bundled by esbuild for the browser test and exposed on window.rf for page.evaluate. */
import { createStore, keys, set } from 'idb-keyval'
import { createFallback } from '../../fallback-helper.js'
import { cacheStore } from '../../../src/store/cache.js'
import { idbStore } from '../../../src/store/idb.js'
import { memoryStore } from '../../../src/store/memory.js'
import { createResilientFetch, type ResilientFetch } from '../../../src/index.js'

const rf = {
  createFallback,
  createResilientFetch,
  /** What a test keeps in the page between evaluate calls: an instance, the bodies of its calls in flight. */
  app: {} as { rf?: ResilientFetch; bodies?: Promise<string>[]; cleared?: boolean },
  cacheStore,
  idbStore,
  memoryStore,
  /** The string keys really in an idbStore's database, to see eviction on disk. */
  idbKeys: async (dbName: string) => (await keys(createStore(dbName, 'responses'))).filter((key) => typeof key === 'string'),
  /** Writes a raw value into an idbStore's database, as a damaged or foreign write would. */
  idbSet: (dbName: string, key: string, value: unknown) => set(key, value, createStore(dbName, 'responses')),
  /** The URLs really in a Cache API cache. */
  cacheKeys: async (cacheName: string) => (await (await caches.open(cacheName)).keys()).map((request) => request.url),
  entry: (body: string, storedAt = Date.now()) => ({
    url: location.origin + '/x',
    status: 200,
    statusText: 'OK',
    headers: [['content-type', 'text/plain']] as [string, string][],
    body: new TextEncoder().encode(body).buffer as ArrayBuffer,
    storedAt,
  }),
  text: (buffer: ArrayBuffer) => new TextDecoder().decode(buffer),
}

declare global {
  interface Window {
    rf: typeof rf
  }
}
window.rf = rf
document.documentElement.dataset.ready = 'true'
