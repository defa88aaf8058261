// cacheStore in Node on the fake CacheStorage: what the store suite leaves open (exact bounds, the metadata it reads
// back, the headers it moves aside and must bring back as they were).
import { afterEach, describe, expect, it, vi } from 'vitest'
import { cacheStore } from '../src/store/cache.js'
import { fakeCaches } from './store/fake-caches.js'
import { entry, evictable, text } from './store/helpers.js'

afterEach(() => {
  vi.unstubAllGlobals()
})

function install(options?: Parameters<typeof fakeCaches>[0]) {
  const fake = fakeCaches(options)
  vi.stubGlobal('caches', fake.caches)
  return fake
}

const KEY_URL = (key: string) => `https://resilient-fetch.invalid/${encodeURIComponent(key)}`

describe('cacheStore headers', () => {
  it("an origin's own X-Resilient-Original-Cache-Control (or -Vary, -Date) never comes back as Cache-Control (Vary, Date)", async () => {
    install()
    const store = cacheStore()
    const headers: [string, string][] = [
      ['cache-control', 'max-age=60'],
      ['x-resilient-original-cache-control', 'stale-if-error=999999'],
      ['x-resilient-original-vary', 'X-User'],
      ['x-resilient-original-date', 'Thu, 01 Jan 1970 00:00:00 GMT'],
    ]
    await store.put('GET https://api.example.com/x', entry('x', { headers }))
    const back = await store.get('GET https://api.example.com/x')
    expect(back!.headers).toEqual([['cache-control', 'max-age=60']])
  })
})
