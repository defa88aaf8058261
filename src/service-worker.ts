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
import {
  BulkheadRejectedError as BulkheadRejected,
  CircuitOpenError as CircuitOpen,
  createResilientFetch as create,
  memoryStore as memory,
  ResilienceError as Resilience,
  resilienceInfo as info,
  resilientFetch as instance,
  ThrottledError as Throttled,
  TimeoutError as Timeout,
} from './index.js'

Object.assign(preloaded, { fallback, hedge, throttle, coalesce, lru, cacheApi, indexedDb })
useSharing(sharing)

// package.json lists this entry's files in `sideEffects`, so a bundler keeps the lines above even for a bare import. For one
// that reads the package as side-effect free all the same, every value export is this module's own (the same value as the
// main entry's): such a bundler drops a module none of whose own exports is used, and keeps one whose own exports are.
/** The main entry's `createResilientFetch`, every chunk loaded: see there. */
export const createResilientFetch: typeof create = create
/** The main entry's `resilientFetch`, every chunk loaded: see there. */
export const resilientFetch: typeof instance = instance
/** The main entry's `memoryStore`, every chunk loaded: see there. */
export const memoryStore: typeof memory = memory
/** The main entry's `resilienceInfo`: see there. */
export const resilienceInfo: typeof info = info
/** The main entry's error classes: see there. */
export const ResilienceError: typeof Resilience = Resilience
export type ResilienceError = Resilience
export const CircuitOpenError: typeof CircuitOpen = CircuitOpen
export type CircuitOpenError = CircuitOpen
export const BulkheadRejectedError: typeof BulkheadRejected = BulkheadRejected
export type BulkheadRejectedError = BulkheadRejected
export const TimeoutError: typeof Timeout = Timeout
export type TimeoutError = Timeout
export const ThrottledError: typeof Throttled = Throttled
export type ThrottledError = Throttled
export type { MemoryStoreOptions } from './index.js'
export type * from './types.js'
