// cacheStore in Node on the fake CacheStorage: what the store suite leaves open (exact bounds, the metadata it reads
// back, the headers it moves aside and must bring back as they were).
import { afterEach, describe, expect, it, vi } from 'vitest'
import { cacheStore } from '../src/store/cache.js'
import { cacheKeyUrl, installFakeCaches } from './store/fake-caches.js'
import { entry, evictable, text } from './store/helpers.js'

afterEach(() => {
  vi.unstubAllGlobals()
})

describe('cacheStore headers', () => {
  it("an origin's own X-Resilient-Original-Cache-Control (or -Vary, -Date) never comes back as Cache-Control (Vary, Date)", async () => {
    installFakeCaches()
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

describe('cacheStore what it keeps', () => {
  it('moves Expires and Pragma aside too, and brings them back under their names', async () => {
    const fake = installFakeCaches()
    const store = cacheStore()
    const headers: [string, string][] = [
      ['vary', 'Accept'],
      ['expires', 'Thu, 01 Jan 2026 00:00:00 GMT'],
      ['pragma', 'no-cache'],
      ['Content-Type', 'text/plain'],
    ]
    await store.put('k', entry('x', { headers }))
    const written = new Map(fake.entries('resilient-fetch').get(cacheKeyUrl('k'))!.init.headers)
    expect(written.get('x-resilient-original-expires')).toBe('Thu, 01 Jan 2026 00:00:00 GMT')
    expect(written.get('x-resilient-original-pragma')).toBe('no-cache')
    expect(written.get('x-resilient-original-vary')).toBe('Accept')
    expect(written.has('expires') || written.has('pragma') || written.has('vary')).toBe(false)
    expect(new Map((await store.get('k'))!.headers)).toEqual(new Map([['vary', 'Accept'], ['expires', 'Thu, 01 Jan 2026 00:00:00 GMT'], ['pragma', 'no-cache'], ['content-type', 'text/plain']]))
  })

  it("never writes Set-Cookie2, Content-Length, Age or CF-Cache-Status, nor an origin's header named as our metadata", async () => {
    const fake = installFakeCaches()
    const headers: [string, string][] = [
      ['set-cookie2', 'sid=secret'],
      ['content-length', '1'],
      ['age', '100'],
      ['cf-cache-status', 'HIT'],
      ['x-resilient-stored-at', '1'],
      ['x-resilient-url', 'https%3A%2F%2Fevil.example%2F'],
      ['etag', '"1"'],
    ]
    await cacheStore().put('k', entry('x', { headers, storedAt: 7 }))
    expect(fake.entries('resilient-fetch').get(cacheKeyUrl('k'))!.init.headers.sort()).toEqual([
      ['cache-control', 'public, max-age=31536000'],
      ['etag', '"1"'],
      ['x-resilient-stored-at', '7'],
      ['x-resilient-url', encodeURIComponent('https://api.example.com/items')],
    ])
  })

  it('headers the runtime adds on a hit (Age, Date, CF-Cache-Status, Content-Length) are not read back as the origin’s', async () => {
    const fake = installFakeCaches()
    const store = cacheStore()
    await store.put('k', entry('x', { headers: [['etag', '"1"']], storedAt: 9 }))
    const cached = fake.entries('resilient-fetch').get(cacheKeyUrl('k'))!
    cached.init.headers.push(['age', '3'], ['date', 'Mon, 07 Dec 2026 00:00:00 GMT'], ['cf-cache-status', 'HIT'], ['content-length', '1'], ['set-cookie', 'a=b'], ['set-cookie2', 'c=d'])
    expect(await store.get('k')).toEqual(entry('x', { headers: [['etag', '"1"']], storedAt: 9 }))
  })
})

describe('cacheStore keys', () => {
  it("a new page learns only its own keys: another app's entries in the cache neither count toward maxEntries nor are deleted", async () => {
    const fake = installFakeCaches()
    const cache = await fake.caches.open('resilient-fetch')
    await cacheStore({ maxEntries: 2 }).put('a', entry('a'))
    await cache.put('https://other.example/resilient-fetch.invalid/x', new Response('theirs'))
    const reloaded = cacheStore({ maxEntries: 2 })
    await reloaded.put('b', entry('b'))
    expect([...fake.entries('resilient-fetch').keys()]).toEqual([cacheKeyUrl('a'), 'https://other.example/resilient-fetch.invalid/x', cacheKeyUrl('b')])
    await reloaded.clear()
    expect([...fake.entries('resilient-fetch').keys()]).toEqual(['https://other.example/resilient-fetch.invalid/x'])
  })

  it('a new page learns the order from keys(): its first write drops the oldest of those', async () => {
    const fake = installFakeCaches()
    for (const key of ['a', 'b', 'c']) await cacheStore({ maxEntries: 3 }).put(key, entry(key))
    await cacheStore({ maxEntries: 3 }).put('d', entry('d'))
    expect([...fake.entries('resilient-fetch').keys()]).toEqual([cacheKeyUrl('b'), cacheKeyUrl('c'), cacheKeyUrl('d')])
  })

  it('keys with characters a URL escapes (spaces, ?, #, %, non-ASCII) round-trip, are learned by a new page and cleared', async () => {
    const fake = installFakeCaches()
    const key = 'GET https://api.example.com/a b?q=1#x%20é'
    await cacheStore().put(key, entry('x'))
    expect(text((await cacheStore().get(key))!.body)).toBe('x')
    await cacheStore().clear()
    expect(fake.entries('resilient-fetch').size).toBe(0)
  })

  it('evict() of an odd count deletes the larger half; of one entry, that one', async () => {
    const fake = installFakeCaches()
    const store = cacheStore()
    for (const key of ['a', 'b', 'c']) await store.put(key, entry(key))
    await evictable(store).evict()
    expect([...fake.entries('resilient-fetch').keys()]).toEqual([cacheKeyUrl('c')])
    await evictable(store).evict()
    expect(fake.entries('resilient-fetch').size).toBe(0)
  })

  it('a read counts as use for evict() too', async () => {
    const fake = installFakeCaches()
    const store = cacheStore()
    for (const key of ['a', 'b', 'c', 'd']) await store.put(key, entry(key))
    await store.get('a')
    await store.get('b')
    await evictable(store).evict()
    expect([...fake.entries('resilient-fetch').keys()].sort()).toEqual([cacheKeyUrl('a'), cacheKeyUrl('b')])
  })
})

describe('cacheStore entries it finds', () => {
  const URL_HEADER = encodeURIComponent('https://api.example.com/items')
  const damaged: [string, Response][] = [
    ['without a time stored', new Response('x', { headers: { 'x-resilient-url': URL_HEADER } })],
    ['with a time stored that is no number', new Response('x', { headers: { 'x-resilient-url': URL_HEADER, 'x-resilient-stored-at': 'soon' } })],
    ['without a URL', new Response('x', { headers: { 'x-resilient-stored-at': '5' } })],
  ]
  for (const [what, response] of damaged)
    it(`an entry ${what} is deleted when read, and the read rejects naming the key`, async () => {
      const fake = installFakeCaches()
      await (await fake.caches.open('resilient-fetch')).put(cacheKeyUrl('k'), response)
      await expect(cacheStore().get('k')).rejects.toThrow('cacheStore: corrupt entry for k deleted')
      expect(fake.entries('resilient-fetch').size).toBe(0)
    })

  it('an entry without metadata nor body (a 204 another writer left) is deleted when read too', async () => {
    const deleted: string[] = []
    const cache = { match: async () => new Response(null, { status: 204 }), delete: async (url: string) => void deleted.push(url), keys: async () => [] }
    vi.stubGlobal('caches', { open: async () => cache })
    await expect(cacheStore().get('k')).rejects.toThrow('cacheStore: corrupt entry for k deleted')
    expect(deleted).toEqual([cacheKeyUrl('k')])
  })

  it('headers written aside by another writer (x-resilient-original-set-cookie, -age) never come back as Set-Cookie or Age', async () => {
    const fake = installFakeCaches()
    const headers = { 'x-resilient-url': URL_HEADER, 'x-resilient-stored-at': '5', 'x-resilient-original-set-cookie': 'sid=1', 'x-resilient-original-age': '9', 'x-resilient-original-vary': 'Accept' }
    await (await fake.caches.open('resilient-fetch')).put(cacheKeyUrl('k'), new Response(new Uint8Array([120]), { headers }))
    expect((await cacheStore().get('k'))!.headers).toEqual([['vary', 'Accept']])
  })

  it('delete() removes the entry, and it no longer counts toward maxEntries', async () => {
    const fake = installFakeCaches()
    const store = cacheStore({ maxEntries: 2 })
    await store.put('a', entry('a'))
    await store.put('b', entry('b'))
    await store.delete('a')
    expect(await store.get('a')).toBeUndefined()
    await store.put('c', entry('c'))
    expect([...fake.entries('resilient-fetch').keys()]).toEqual([cacheKeyUrl('b'), cacheKeyUrl('c')])
  })
})
