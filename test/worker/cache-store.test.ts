// The Cache API store in workerd, where the Cache has no working keys() and Set-Cookie responses are refused.
import { describe, expect, it } from 'vitest'
import { createFallback } from '../fallback-helper.js'
import { resolveStore } from '../../src/store/auto.js'
import { cacheStore } from '../../src/store/cache.js'

const keyUrl = (key: string) => `https://resilient-fetch.invalid/${encodeURIComponent(key)}`

function entry(body: string, headers: [string, string][] = [['content-type', 'text/plain']]) {
  return { url: 'https://api.example.com/x', status: 200, statusText: 'OK', headers, body: new TextEncoder().encode(body).buffer as ArrayBuffer, storedAt: 1_700_000_000_000 }
}

let n = 0
const freshName = () => `worker-test-${n++}`

describe('cacheStore in workerd', () => {
  it('round-trips an entry through caches.open', async () => {
    const store = cacheStore({ cacheName: freshName() })
    await store.put('GET https://api.example.com/x', entry('hello', [['content-type', 'text/plain'], ['cache-control', 'stale-if-error=60'], ['etag', '"1"'], ['date', 'Sun, 22 Nov 2026 09:00:00 GMT']]))
    const back = await store.get('GET https://api.example.com/x')
    expect(back).toMatchObject({ url: 'https://api.example.com/x', status: 200, storedAt: 1_700_000_000_000 })
    expect(new Map(back!.headers)).toEqual(new Map([['content-type', 'text/plain'], ['cache-control', 'stale-if-error=60'], ['etag', '"1"'], ['date', 'Sun, 22 Nov 2026 09:00:00 GMT']]))
    expect(new TextDecoder().decode(back!.body)).toBe('hello')
    expect(await store.get('GET https://api.example.com/y')).toBeUndefined()
  })

  it('keeps at most maxEntries, deleting the least recently used from the cache', async () => {
    const cacheName = freshName()
    const store = cacheStore({ cacheName, maxEntries: 2 })
    await store.put('a', entry('a'))
    await store.put('b', entry('b'))
    await store.get('a')
    await store.put('c', entry('c'))
    const cache = await caches.open(cacheName)
    expect(await cache.match(keyUrl('b'))).toBeUndefined()
    expect(await cache.match(keyUrl('a'))).toBeDefined()
    expect(await cache.match(keyUrl('c'))).toBeDefined()
  })

  it('clear() deletes what this store wrote', async () => {
    const cacheName = freshName()
    const store = cacheStore({ cacheName })
    await store.put('a', entry('a'))
    await store.put('b', entry('b'))
    await store.clear()
    expect(await store.get('a')).toBeUndefined()
    expect(await (await caches.open(cacheName)).match(keyUrl('b'))).toBeUndefined()
  })

  it('a Set-Cookie response stored with private: true lands in the cache (stripped) and is served through waitUntil', async () => {
    const errors: unknown[] = []
    const fallback = createFallback({ store: cacheStore({ cacheName: freshName() }), maxAge: 60_000, maxBodyBytes: 1_000_000, private: true }, (_type, detail) => errors.push(detail))
    const request = { url: 'https://api.example.com/me', headers: new Headers({ authorization: 'Bearer t' }) }
    const waits: Promise<unknown>[] = []
    const response = Response.json({ me: 'alice' }, { headers: { 'set-cookie': 'sid=1; HttpOnly' } })
    fallback.remember(request, response, (p) => waits.push(p))
    expect(await response.json()).toEqual({ me: 'alice' })
    await Promise.all(waits)
    expect(errors).toEqual([])
    const found = await fallback.recall(request)
    expect(await found!.response.json()).toEqual({ me: 'alice' })
    expect(found!.response.headers.get('x-resilient-source')).toBe('fallback')
    expect(found!.response.headers.has('set-cookie')).toBe(false)
  })

  it("'auto' picks the Cache API", async () => {
    const store = resolveStore('auto')
    await store.put('auto-key', entry('auto'))
    expect(await (await caches.open('resilient-fetch')).match(keyUrl('auto-key'))).toBeDefined()
  })
})
