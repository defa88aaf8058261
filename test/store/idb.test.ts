// @vitest-environment happy-dom
import 'fake-indexeddb/auto'
import { createStore, get as rawGet, keys as rawKeys, set as rawSet } from 'idb-keyval'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { createFallback } from '../fallback-helper.js'
import { idbStore } from '../../src/store/idb.js'
import { entry, text, evictable } from './helpers.js'

let counter = 0
/** A fresh database per test, so no test sees another's entries. */
function freshName(): string {
  return `idb-test-${Date.now()}-${counter++}`
}

/** The raw object store behind an idbStore, to look at what is really on disk. */
function raw(dbName: string) {
  return createStore(dbName, 'responses')
}

afterEach(() => {
  vi.restoreAllMocks()
  vi.unstubAllGlobals()
  vi.useRealTimers()
})

describe('idbStore', () => {
  it('round-trips an entry, with the body stored as an ArrayBuffer (never a Blob)', async () => {
    const dbName = freshName()
    const store = idbStore({ dbName })
    await store.put('GET https://a/1', entry('one', { url: 'https://a/1', headers: [['content-type', 'text/plain'], ['etag', '"v1"']] }))
    const back = await store.get('GET https://a/1')
    expect(back).toMatchObject({ url: 'https://a/1', status: 200, statusText: 'OK', storedAt: 1_000 })
    expect(back!.headers).toEqual([['content-type', 'text/plain'], ['etag', '"v1"']])
    expect(text(back!.body)).toBe('one')
    const onDisk = await rawGet('GET https://a/1', raw(dbName))
    expect(Object.prototype.toString.call(onDisk.body)).toBe('[object ArrayBuffer]')
    expect(await store.get('GET https://a/2')).toBeUndefined()
  })

  it('a new store on the same database (a page reload) finds what the old one stored', async () => {
    const dbName = freshName()
    await idbStore({ dbName }).put('k', entry('kept'))
    expect(text((await idbStore({ dbName }).get('k'))!.body)).toBe('kept')
  })

  it('deletes the least recently used entry beyond maxEntries; a get counts as use', async () => {
    const dbName = freshName()
    const store = idbStore({ dbName, maxEntries: 2 })
    await store.put('a', entry('a'))
    await store.put('b', entry('b'))
    await store.get('a')
    await store.put('c', entry('c'))
    expect(await store.get('b')).toBeUndefined()
    const onDisk = (await rawKeys(raw(dbName))).filter((key) => typeof key === 'string').sort()
    expect(onDisk).toEqual(['a', 'c'])
    expect(await rawGet(['lru-index'], raw(dbName))).toEqual(['a', 'c'])
  })

  it('keeps the bound across store instances (the index is on disk, not in memory)', async () => {
    const dbName = freshName()
    for (const key of ['a', 'b', 'c']) await idbStore({ dbName, maxEntries: 2 }).put(key, entry(key))
    const onDisk = (await rawKeys(raw(dbName))).filter((key) => typeof key === 'string').sort()
    expect(onDisk).toEqual(['b', 'c'])
  })

  it('evicts without reading every value: no getAll or cursor on writes', async () => {
    const getAll = vi.spyOn(IDBObjectStore.prototype, 'getAll')
    const openCursor = vi.spyOn(IDBObjectStore.prototype, 'openCursor')
    const getAllKeys = vi.spyOn(IDBObjectStore.prototype, 'getAllKeys')
    const store = idbStore({ dbName: freshName(), maxEntries: 5 })
    for (let i = 0; i < 20; i++) await store.put(`k${i}`, entry(String(i)))
    expect(getAll).not.toHaveBeenCalled()
    expect(openCursor).not.toHaveBeenCalled()
    // Only the very first write, on an empty database without an index yet, lists keys.
    expect(getAllKeys.mock.calls.length).toBeLessThanOrEqual(1)
    expect(await store.get('k14')).toBeUndefined()
    expect(await store.get('k15')).toBeDefined()
  })

  it('rebuilds a damaged index from the keys instead of losing the bound', async () => {
    const dbName = freshName()
    const store = idbStore({ dbName, maxEntries: 2 })
    await store.put('a', entry('a'))
    await store.put('b', entry('b'))
    await rawSet(['lru-index'], 'not an index', raw(dbName))
    await store.put('c', entry('c'))
    const onDisk = (await rawKeys(raw(dbName))).filter((key) => typeof key === 'string')
    expect(onDisk).toHaveLength(2)
    expect(onDisk).toContain('c')
  })

  it('deletes a corrupt entry when it finds one, rejecting with the key', async () => {
    const dbName = freshName()
    const store = idbStore({ dbName })
    await store.put('ok', entry())
    await rawSet('bad', { url: 'x', body: 'not a buffer' }, raw(dbName))
    await expect(store.get('bad')).rejects.toThrow('idbStore: corrupt entry for bad deleted')
    expect(await rawGet('bad', raw(dbName))).toBeUndefined()
    expect(await store.get('bad')).toBeUndefined()
    expect(await store.get('ok')).toBeDefined()
  })

  it.each([
    ['a 204 with a body', entry('body', { status: 204 })],
    ['a bad header name', entry('x', { headers: [['bad header', 'x']] })],
    ['a malformed Vary record', entry('x', { headers: [['x-resilient-vary', '%E0%A4%A']] })],
    ['a Vary record that is not JSON', entry('x', { headers: [['x-resilient-vary', 'not-json']] })],
  ])('behind the fallback, an entry that passes the shape check but cannot become a Response (%s) is deleted when found', async (_name, damaged) => {
    const dbName = freshName()
    const key = 'GET https://a/damaged'
    await rawSet(key, { ...damaged, storedAt: Date.now() }, raw(dbName))
    const errors: { key: string; error: unknown }[] = []
    const fallback = createFallback({ store: idbStore({ dbName }), maxAge: 60_000, maxBodyBytes: 1_000, private: false }, (_type, detail) => errors.push(detail))
    const request = { url: 'https://a/damaged', headers: new Headers() }
    expect(await fallback.recall(request)).toBeUndefined()
    expect(errors).toEqual([{ key: 'https://a', error: expect.objectContaining({ message: `idbStore: corrupt entry for ${key} deleted` }) }])
    expect(await rawGet(key, raw(dbName))).toBeUndefined()
    expect(await fallback.recall(request)).toBeUndefined()
    expect(errors).toHaveLength(1)
  })

  it('delete, clear, and evict (the least recently used half)', async () => {
    const dbName = freshName()
    const store = idbStore({ dbName })
    for (const key of ['a', 'b', 'c', 'd', 'e']) await store.put(key, entry(key))
    await store.delete('a')
    expect(await store.get('a')).toBeUndefined()
    await evictable(store).evict()
    expect(await store.get('b')).toBeUndefined()
    expect(await store.get('c')).toBeUndefined()
    expect(await store.get('d')).toBeDefined()
    expect(await rawGet(['lru-index'], raw(dbName))).toEqual(['e', 'd'])
    await store.clear()
    expect(await store.get('e')).toBeUndefined()
  })

  it('a put that hits the quota rejects with the QuotaExceededError and stores nothing', async () => {
    const dbName = freshName()
    const store = idbStore({ dbName })
    await store.put('before', entry())
    vi.spyOn(IDBObjectStore.prototype, 'put').mockImplementationOnce(() => {
      throw new DOMException('full', 'QuotaExceededError')
    })
    await expect(store.put('k', entry())).rejects.toMatchObject({ name: 'QuotaExceededError' })
    expect(await store.get('k')).toBeUndefined()
    expect(await store.get('before')).toBeDefined()
  })

  it('behind the fallback, a put over quota evicts the least recently used half and the retry lands', async () => {
    const dbName = freshName()
    const store = idbStore({ dbName })
    for (const key of ['GET https://a/1', 'GET https://a/2', 'GET https://a/3', 'GET https://a/4']) await store.put(key, entry(key))
    const errors: unknown[] = []
    const fallback = createFallback({ store, maxAge: 60_000, maxBodyBytes: 1_000, private: false }, (_type, detail) => errors.push(detail))
    vi.spyOn(IDBObjectStore.prototype, 'put').mockImplementationOnce(() => {
      throw new DOMException('full', 'QuotaExceededError')
    })
    const work: Promise<unknown>[] = []
    const request = { url: 'https://a/new', headers: new Headers() }
    fallback.remember(request, new Response('fresh'), (p) => work.push(p))
    await Promise.all(work)
    expect(errors).toEqual([])
    expect(await (await fallback.recall(request))!.response.text()).toBe('fresh')
    const onDisk = (await rawKeys(raw(dbName))).filter((key) => typeof key === 'string').sort()
    expect(onDisk).toEqual(['GET https://a/3', 'GET https://a/4', 'GET https://a/new'])
  })

  it('behind the fallback, a missing IndexedDB is one storeerror, then copies are kept in memory', async () => {
    vi.stubGlobal('indexedDB', undefined)
    const errors: { key: string; error: unknown }[] = []
    const fallback = createFallback({ store: idbStore({ dbName: freshName() }), maxAge: 60_000, maxBodyBytes: 1_000, private: false }, (_type, detail) => errors.push(detail))
    const request = { url: 'https://a/x', headers: new Headers() }
    expect(await fallback.recall(request)).toBeUndefined()
    expect(errors).toEqual([{ key: 'https://a', error: expect.objectContaining({ message: expect.stringMatching(/unavailable/) }) }])
    const work: Promise<unknown>[] = []
    fallback.remember(request, new Response('kept'), (p) => work.push(p))
    await Promise.all(work)
    expect(await (await fallback.recall(request))!.response.text()).toBe('kept')
    expect(errors).toHaveLength(1)
  })

  it('where IndexedDB is missing, the first call says so and later calls use memory', async () => {
    vi.stubGlobal('indexedDB', undefined)
    const store = idbStore({ dbName: freshName() })
    await expect(store.get('k')).rejects.toThrow(/IndexedDB .* is unavailable, keeping fallback copies in memory/)
    await store.put('k', entry('in memory'))
    expect(text((await store.get('k'))!.body)).toBe('in memory')
  })

  it('an open that never finishes is abandoned after 2 s, then memory is used', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] })
    // A request whose success and error events never fire: a blocked upgrade, Firefox private mode.
    vi.spyOn(indexedDB, 'open').mockImplementation(() => ({}) as IDBOpenDBRequest)
    const store = idbStore({ dbName: freshName() })
    const first = store.put('k', entry('x'))
    const settled = vi.fn()
    first.then(settled, settled)
    await vi.advanceTimersByTimeAsync(1_999)
    expect(settled).not.toHaveBeenCalled()
    await vi.advanceTimersByTimeAsync(1)
    await expect(first).rejects.toMatchObject({ cause: new Error('IndexedDB open did not finish within 2000 ms') })
    await store.put('k', entry('in memory'))
    expect(text((await store.get('k'))!.body)).toBe('in memory')
  })

  it('rejects bad options naming the option and value', () => {
    expect(() => idbStore({ maxEntries: 0 })).toThrow(new RangeError('idbStore options.maxEntries must be a positive integer, got 0'))
    expect(() => idbStore({ dbName: '' })).toThrow(new TypeError('idbStore options.dbName must be a non-empty string, got ""'))
    expect(() => idbStore({ dbname: 'x' } as never)).toThrow(new TypeError('idbStore options.dbname is not an option (known: dbName, maxEntries)'))
  })
})
