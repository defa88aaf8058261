/**
 * A small in-memory CacheStorage for Node tests: keys are GET URLs, entries keep insertion order
 * (a put replaces and moves to the end, as the spec's request-response list does), bodies are copied on put.
 */
import { vi } from 'vitest'
export interface FakeCaches {
  caches: CacheStorage
  /** The raw stored responses of one cache, by URL, to look at what was written. */
  entries(name: string): Map<string, { body: ArrayBuffer; init: ResponseInit & { headers: [string, string][] } }>
  /** Makes the next `count` puts reject with a QuotaExceededError. */
  failPuts(count: number): void
}

/** `workerd: true` behaves like Cloudflare's: keys() throws "not implemented" and there is no caches.delete. */
export function fakeCaches(options: { workerd?: boolean } = {}): FakeCaches {
  const store = new Map<string, Map<string, { body: ArrayBuffer; init: ResponseInit & { headers: [string, string][] } }>>()
  let failing = 0
  const urlOf = (request: RequestInfo | URL) => (request instanceof Request ? request.url : new Request(request).url)

  function open(name: string): Cache {
    let entries = store.get(name)
    if (entries === undefined) store.set(name, (entries = new Map()))
    const cache = {
      async match(request: RequestInfo | URL) {
        const found = store.get(name)?.get(urlOf(request))
        if (found === undefined) return undefined
        return new Response(found.body.slice(0), { ...found.init, headers: found.init.headers })
      },
      async put(request: RequestInfo | URL, response: Response) {
        const url = urlOf(request)
        if (!/^https?:/.test(url)) throw new TypeError('Request scheme must be http or https')
        if (failing > 0) {
          failing--
          throw new DOMException('The quota has been exceeded.', 'QuotaExceededError')
        }
        const body = await response.arrayBuffer()
        const current = store.get(name) ?? new Map()
        store.set(name, current)
        current.delete(url)
        current.set(url, { body, init: { status: response.status, statusText: response.statusText, headers: [...response.headers] } })
      },
      async delete(request: RequestInfo | URL) {
        return store.get(name)?.delete(urlOf(request)) ?? false
      },
      async keys() {
        // workerd defines keys() but throws when it is called.
        if (options.workerd) throw new Error("Failed to execute 'keys' on 'Cache': the method is not implemented.")
        return [...(store.get(name)?.keys() ?? [])].map((url) => new Request(url))
      },
    }
    return cache as unknown as Cache
  }

  const caches = {
    async open(name: string) {
      return open(name)
    },
    async has(name: string) {
      return store.has(name)
    },
    ...(options.workerd
      ? {}
      : {
          async delete(name: string) {
            return store.delete(name)
          },
        }),
  } as unknown as CacheStorage

  return {
    caches,
    entries: (name) => store.get(name) ?? new Map(),
    failPuts(count) {
      failing = count
    },
  }
}

/** fakeCaches() as the global `caches` (vi.unstubAllGlobals() takes it away). */
export function installFakeCaches(options?: Parameters<typeof fakeCaches>[0]): FakeCaches {
  const fake = fakeCaches(options)
  vi.stubGlobal('caches', fake.caches)
  return fake
}

/** The URL cacheStore keeps the entry of `key` under. */
export const cacheKeyUrl = (key: string) => `https://resilient-fetch.invalid/${encodeURIComponent(key)}`
