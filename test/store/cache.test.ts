// Node, not happy-dom: Set-Cookie is only visible where servers and Workers run, so only here can stripping it be seen.
import { afterEach, describe, expect, it, vi } from 'vitest'
import { cacheStore } from '../../src/store/cache.js'
import { cacheKeyUrl, installFakeCaches } from './fake-caches.js'
import { entry, text, evictable } from './helpers.js'

afterEach(() => {
  vi.unstubAllGlobals()
})

describe('cacheStore', () => {
  it('round-trips status, statusText, headers (the origin Cache-Control and Vary too), body and storedAt', async () => {
    installFakeCaches()
    const store = cacheStore()
    const original = entry('{"a":1}', {
      url: 'https://api.example.com/items?page=2',
      statusText: 'Fine',
      storedAt: 1_700_000_000_123,
      headers: [
        ['cache-control', 'max-age=60, stale-if-error=300'],
        ['content-type', 'application/json'],
        ['vary', 'Accept'],
        ['date', 'Sun, 22 Nov 2026 09:00:00 GMT'],
        ['x-resilient-vary', '%5B%5D'],
      ],
    })
    await store.put('GET https://api.example.com/items?page=2', original)
    const back = await store.get('GET https://api.example.com/items?page=2')
    expect(back).toMatchObject({ url: original.url, status: 200, statusText: 'Fine', storedAt: original.storedAt })
    expect(new Map(back!.headers)).toEqual(new Map(original.headers))
    expect(text(back!.body)).toBe('{"a":1}')
    expect(await store.get('GET https://api.example.com/other')).toBeUndefined()
  })

  it('writes a Response under a synthetic https key, with an explicit Cache-Control, our storedAt, and no Set-Cookie', async () => {
    const fake = installFakeCaches()
    await cacheStore({ cacheName: 'mine' }).put(
      'GET http://a/x',
      entry('x', {
        headers: [
          ['cache-control', 'private, no-cache'],
          ['set-cookie', 'sid=secret'],
          ['content-type', 'text/plain'],
        ],
        storedAt: 5,
      }),
    )
    const written = fake.entries('mine').get(cacheKeyUrl('GET http://a/x'))!
    const headers = new Map(written.init.headers)
    expect(headers.get('cache-control')).toBe('public, max-age=31536000')
    expect(headers.get('x-resilient-original-cache-control')).toBe('private, no-cache')
    expect(headers.get('x-resilient-stored-at')).toBe('5')
    expect(headers.has('set-cookie')).toBe(false)
  })

  it("an origin's own x-resilient-original-* headers never come back as a header we moved aside, a cookie or our metadata", async () => {
    installFakeCaches()
    const store = cacheStore()
    await store.put(
      'GET https://api.example.com/me',
      entry('{"user":"alice"}', {
        headers: [
          ['vary', 'X-User'],
          ['x-resilient-original-set-cookie', 'sid=FIXED; Path=/'],
          ['x-resilient-original-x-resilient-vary', '%5B%5D'],
          ['x-resilient-original-x-resilient-credential', 'f'.repeat(64)],
          ['x-resilient-vary', encodeURIComponent('[["x-user","alice"]]')],
        ],
      }),
    )
    const back = await store.get('GET https://api.example.com/me')
    expect(new Map(back!.headers)).toEqual(
      new Map([
        ['vary', 'X-User'],
        ['x-resilient-vary', encodeURIComponent('[["x-user","alice"]]')],
      ]),
    )
  })

  it('deletes the least recently used entry beyond maxEntries; a get counts as use', async () => {
    const fake = installFakeCaches()
    const store = cacheStore({ maxEntries: 2 })
    await store.put('a', entry('a'))
    await store.put('b', entry('b'))
    await store.get('a')
    await store.put('c', entry('c'))
    expect([...fake.entries('resilient-fetch').keys()].sort()).toEqual([cacheKeyUrl('a'), cacheKeyUrl('c')])
  })

  it('a new store (a page reload) learns the order from keys() and keeps the bound', async () => {
    const fake = installFakeCaches()
    await cacheStore({ maxEntries: 2 }).put('a', entry('a'))
    await cacheStore({ maxEntries: 2 }).put('b', entry('b'))
    const reloaded = cacheStore({ maxEntries: 2 })
    expect(text((await reloaded.get('a'))!.body)).toBe('a')
    await reloaded.put('c', entry('c'))
    expect([...fake.entries('resilient-fetch').keys()].sort()).toEqual([cacheKeyUrl('a'), cacheKeyUrl('c')])
  })

  it('where keys() throws and caches.delete is missing (workerd), it works and clear() deletes every key it wrote', async () => {
    const fake = installFakeCaches({ workerd: true })
    const store = cacheStore()
    await store.put('a', entry('a'))
    await store.put('b', entry('b'))
    await store.clear()
    expect(fake.entries('resilient-fetch').size).toBe(0)
    expect(await store.get('a')).toBeUndefined()
  })

  it("clear() deletes every entry, also those another tab wrote, and the cache stays usable for both", async () => {
    const fake = installFakeCaches()
    const tabA = cacheStore()
    const tabB = cacheStore()
    await tabA.put('a', entry('a'))
    await tabB.put('b', entry('b'))
    await tabA.clear()
    expect(fake.entries('resilient-fetch').size).toBe(0)
    expect(await tabB.get('b')).toBeUndefined()
    await tabB.put('c', entry('c'))
    expect(text((await tabA.get('c'))!.body)).toBe('c')
  })

  it('deletes an entry without our metadata (damaged or foreign), rejecting with the key', async () => {
    const fake = installFakeCaches()
    const store = cacheStore()
    await store.put('ok', entry())
    const cache = await fake.caches.open('resilient-fetch')
    await cache.put(cacheKeyUrl('bad'), new Response('foreign'))
    await expect(store.get('bad')).rejects.toThrow('cacheStore: corrupt entry for bad deleted')
    expect(fake.entries('resilient-fetch').has(cacheKeyUrl('bad'))).toBe(false)
    expect(await store.get('ok')).toBeDefined()
  })

  it('evict() deletes the least recently used half', async () => {
    const fake = installFakeCaches()
    const store = cacheStore()
    for (const key of ['a', 'b', 'c', 'd']) await store.put(key, entry(key))
    await evictable(store).evict()
    expect([...fake.entries('resilient-fetch').keys()]).toEqual([cacheKeyUrl('c'), cacheKeyUrl('d')])
  })

  it('a put that hits the quota rejects with the QuotaExceededError', async () => {
    const fake = installFakeCaches()
    fake.failPuts(1)
    await expect(cacheStore().put('a', entry())).rejects.toMatchObject({ name: 'QuotaExceededError' })
  })

  it('where the Cache API is missing, the first call says so and later calls use memory', async () => {
    vi.stubGlobal('caches', undefined)
    const store = cacheStore()
    await expect(store.put('k', entry('lost'))).rejects.toThrow(/Cache API "resilient-fetch" is unavailable, keeping fallback copies in memory/)
    await store.put('k', entry('in memory'))
    expect(text((await store.get('k'))!.body)).toBe('in memory')
  })

  it('where caches.open fails (Firefox private mode), it degrades the same way', async () => {
    const securityError = new DOMException('The operation is insecure.', 'SecurityError')
    vi.stubGlobal('caches', { open: () => Promise.reject(securityError) })
    const store = cacheStore()
    await expect(store.get('k')).rejects.toMatchObject({ cause: securityError })
    await store.put('k', entry('in memory'))
    expect(text((await store.get('k'))!.body)).toBe('in memory')
  })

  it('where caches.open never settles, it gives up after 2 s and degrades the same way', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] })
    try {
      vi.stubGlobal('caches', { open: () => new Promise(() => {}) })
      const store = cacheStore()
      const first = store.get('k')
      const settled = vi.fn()
      first.then(settled, settled)
      await vi.advanceTimersByTimeAsync(1_999)
      expect(settled).not.toHaveBeenCalled()
      await vi.advanceTimersByTimeAsync(1)
      await expect(first).rejects.toMatchObject({ cause: new Error('caches.open("resilient-fetch") did not finish within 2000 ms') })
      await store.put('k', entry('in memory'))
      expect(text((await store.get('k'))!.body)).toBe('in memory')
    } finally {
      vi.useRealTimers()
    }
  })

  it('rejects bad options naming the option and value', () => {
    expect(() => cacheStore({ maxEntries: -2 })).toThrow(new RangeError('cacheStore options.maxEntries must be a positive integer, got -2'))
    expect(() => cacheStore({ cacheName: '' })).toThrow(new TypeError('cacheStore options.cacheName must be a non-empty string, got ""'))
  })

  it('rejects unknown options, naming them (a typo would silently keep the default)', () => {
    expect(() => cacheStore({ cacheNme: 'mine' } as never)).toThrow(new TypeError('cacheStore options.cacheNme is not an option (known: cacheName, maxEntries)'))
    expect(() => cacheStore('mine' as never)).toThrow(new TypeError('cacheStore options must be an object, got "mine"'))
  })
})
