/**
 * kvStore's options and namespace binding, as schemas: each option's check and default, within KV's
 * limits. Apart from kv.ts, a package entry that exports the store only; the proxy checks its
 * LAST_KNOWN_GOOD binding with the same check.
 */
import type { KvNamespaceLike } from './kv.js'
import { is, numberIs, positiveInteger, struct, withMethods, type Check } from '../schema.js'

/** KV's limits: value bytes and shortest expirationTtl; and the longest prefix we allow (a key is at most 512 bytes). */
export const MAX_VALUE_BYTES = 25 * 1024 * 1024
export const MIN_TTL = 60
export const MAX_PREFIX_BYTES = 256

/** A KV namespace binding: the methods the store calls. */
export const kvNamespace = withMethods<KvNamespaceLike>('a Workers KV namespace binding', ['getWithMetadata', 'put', 'delete', 'list'])

/** A positive integer, then KV's own bound on it. */
const withinKv =
  (bound: Check<number>): Check<number> =>
  (value, path) =>
    bound(positiveInteger(value, path), path)

/** kvStore's options. */
export const kvStoreSchema = struct({
  // An empty prefix would make clear() delete every key of the namespace.
  prefix: [
    is<string>((p) => typeof p === 'string' && p !== '' && new TextEncoder().encode(p).byteLength <= MAX_PREFIX_BYTES, `a non-empty string of at most ${MAX_PREFIX_BYTES} bytes`, true),
    'resilient-fetch:',
  ],
  expirationTtl: [withinKv(numberIs((s) => s >= MIN_TTL, `at least ${MIN_TTL} (seconds, KV's minimum)`)), 86_400],
  maxBodyBytes: [withinKv(numberIs((b) => b <= MAX_VALUE_BYTES, `at most ${MAX_VALUE_BYTES} (KV's value limit)`)), 5 * 1024 * 1024],
})
