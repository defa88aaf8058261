/**
 * The `resilient-fetch/service-worker` entry: the main entry's exports, for a scope that refuses import() (Service
 * Workers, browser extensions' service workers). It loads up front, here, every chunk the main entry loads with
 * import(), and hands them to the places that would have imported them (src/preloaded.ts); the share's side of the
 * breaker stage it installs, as the share entries do.
 */
import { preloaded } from './preloaded.js'
import * as fallback from './fallback.js'
import * as hedge from './stages/hedge.js'
import * as throttle from './stages/throttle.js'
import * as coalesce from './stages/coalesce.js'
import * as lru from './store/lru.js'
import * as cacheApi from './store/cache-api.js'
import * as indexedDb from './store/indexeddb.js'
import { sharing } from './breaker/shared.js'
import { useSharing } from './stages/breaker.js'
import { createResilientFetch as create, memoryStore as memory, resilientFetch as instance } from './index.js'

Object.assign(preloaded, { fallback, hedge, throttle, coalesce, lru, cacheApi, indexedDb })
useSharing(sharing)

// The exports that load chunks are this module's own (the same values): a bundler that reads `sideEffects: false` drops a
// module that only re-exports, and with it the lines above; it keeps a module whose own exports are used.
/** The main entry's `createResilientFetch`, every chunk loaded: see there. */
export const createResilientFetch: typeof create = create
/** The main entry's `resilientFetch`, every chunk loaded: see there. */
export const resilientFetch: typeof instance = instance
/** The main entry's `memoryStore`, every chunk loaded: see there. */
export const memoryStore: typeof memory = memory
export { resilienceInfo, ResilienceError, CircuitOpenError, BulkheadRejectedError, TimeoutError, ThrottledError, type MemoryStoreOptions } from './index.js'
export type * from './types.js'
