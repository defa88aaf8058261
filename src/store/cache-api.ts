/**
 * The Cache API store itself, its options already checked: what `cacheStore()` (the `resilient-fetch/cache` entry)
 * opens, and what the 'auto' store loads. Apart from cache.ts so the 'auto' store's chunk does not carry the option
 * schema: the defaults `cacheStore()` checks against are CACHE_API_DEFAULTS (store/cache-defaults.ts). Entries are written as Responses under
 * synthetic https GET keys, with our own Cache-Control so the edge keeps them.
 */
import type { Store, StoreKit } from './backend.js'
import { CACHE_API_DEFAULTS } from './cache-defaults.js'

/** Cache keys must be http(s) GET Requests; `.invalid` can never be a real host. */
const KEY_PREFIX = 'https://resilient-fetch.invalid/'
/** Our metadata, and the origin's caching headers moved aside so they neither steer the cache nor get lost. */
const STORED_AT = 'x-resilient-stored-at'
const URL_HEADER = 'x-resilient-url'
const ORIGINAL_PREFIX = 'x-resilient-original-'
const MOVED = ['cache-control', 'vary', 'expires', 'pragma', 'date']
/**
 * Headers a cache must never keep, or adds itself on a hit (workerd adds Age, Date, CF-Cache-Status), and those we write
 * ourselves: never written or read back as the origin's (its own Cache-Control and Date are MOVED aside first).
 */
const NOT_STORED = new Set(['set-cookie', 'set-cookie2', 'cf-cache-status', 'content-length', 'age', 'date', 'cache-control', STORED_AT, URL_HEADER])
/** Long enough that the edge keeps entries for any sensible maxAge; the fallback checks the age itself. */
const CACHE_CONTROL = 'public, max-age=31536000'

/** A Cache API store on the cache `cacheName`, of at most `maxEntries` entries (see `cacheStore`); `kit` is backend.ts's STORE_KIT. */
export function cacheApiStore(kit: StoreKit, { cacheName, maxEntries } = CACHE_API_DEFAULTS): Store {
  // Keys in least-recently-used order; a Set keeps insertion order and re-adding moves a key to the end.
  const lru = new Set<string>()
  const touch = (key: string) => {
    lru.delete(key)
    lru.add(key)
  }
  // Out of the LRU and out of the cache: a delete, a corrupt entry, an eviction.
  async function forget(cache: Cache, key: string): Promise<void> {
    lru.delete(key)
    await cache.delete(toUrl(key))
  }
  // Every key but the `keep` most recently used.
  async function dropOldest(cache: Cache, keep: number): Promise<void> {
    await Promise.all([...lru].reverse().slice(keep).map((key) => forget(cache, key)))
  }

  /** Adds our keys in `cache` to `lru`, oldest first (browsers list them so, and a new page starts with a usable LRU order); then `cache`. */
  async function learnKeys(cache: Cache): Promise<Cache> {
    try {
      for (const request of await cache.keys())
        try {
          if (request.url.startsWith(KEY_PREFIX)) lru.add(decodeURIComponent(request.url.slice(KEY_PREFIX.length)))
        } catch {
          // A key we never encoded (damage, another writer): not one of ours, and never matched; the next may be.
        }
    } catch {
      // keys() is not implemented everywhere (workerd): there only the keys we wrote count.
    }
    return cache
  }

  // Rejects where the Cache API is missing (reading `caches` throws) or its open fails or hangs.
  // Each operation opens the cache anew: the app may have deleted it (caches.delete on logout), and a Cache kept from
  // before would go on serving the copies it held until the page closes.
  const current = () => caches.open(cacheName)
  const open = async () => {
    await learnKeys(await kit.openWithin(current(), `caches.open("${cacheName}")`))
    return current
  }

  return kit.degrading(open, `cacheStore: Cache API "${cacheName}"`, maxEntries, {
    async get(now, key) {
      const cache = await now()
      const response = await cache.match(toUrl(key))
      if (!response) return undefined
      // A blank time is none: Number('') is 0, an entry too old to serve that would never be deleted.
      const storedAt = Number(response.headers.get(STORED_AT) || NaN)
      let url: string
      try {
        if (!Number.isFinite(storedAt)) throw 0
        // A missing URL decodes as '%' does: it throws, as a URL we never encoded (malformed percent-encoding) does.
        url = decodeURIComponent(response.headers.get(URL_HEADER) ?? '%')
      } catch {
        // Without our metadata, or with a URL we never wrote, it was written by someone else, or damaged.
        await response.body?.cancel()
        await forget(cache, key)
        throw new TypeError(`cacheStore: corrupt entry for ${key} deleted`)
      }
      touch(key)
      // The origin's headers: ours left out, those we moved aside back under their names.
      const headers: [string, string][] = []
      for (const [name, value] of response.headers) {
        const moved = name.startsWith(ORIGINAL_PREFIX) && name.slice(ORIGINAL_PREFIX.length)
        if (moved === false ? !NOT_STORED.has(name) : MOVED.includes(moved)) headers.push([moved || name, value])
      }
      return { url, status: response.status, statusText: response.statusText, headers, body: await response.arrayBuffer(), storedAt }
    },
    async put(now, key, entry) {
      const cache = await now()
      const headers = new Headers({ 'cache-control': CACHE_CONTROL, [STORED_AT]: String(entry.storedAt), [URL_HEADER]: encodeURIComponent(entry.url) })
      for (const [name, value] of entry.headers) {
        const lower = name.toLowerCase()
        if (MOVED.includes(lower)) headers.append(ORIGINAL_PREFIX + lower, value)
        // An origin's own x-resilient-original-* would read back as one we moved aside (its Cache-Control, Vary, Date).
        else if (!NOT_STORED.has(lower) && !lower.startsWith(ORIGINAL_PREFIX)) headers.append(lower, value)
      }
      await cache.put(toUrl(key), new Response(entry.body, { status: entry.status, statusText: entry.statusText, headers }))
      touch(key)
      await dropOldest(cache, maxEntries)
    },
    delete: async (now, key) => forget(await now(), key),
    // Entry by entry, never caches.delete(): another tab's open Cache would go on serving the orphaned copies.
    clear: async (now) => dropOldest(await learnKeys(await now()), 0),
    evict: async (now) => dropOldest(await now(), lru.size >> 1),
  })
}

/** A key's cache URL (the Cache API takes it as a GET Request). */
const toUrl = (key: string) => KEY_PREFIX + encodeURIComponent(key)
