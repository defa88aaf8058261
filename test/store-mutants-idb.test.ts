// @vitest-environment happy-dom
// idbStore on fake-indexeddb: what the store suites leave open (its LRU index through deletes, re-puts and damage, a
// database deleted under it on logout, a database it can no longer open).
import 'fake-indexeddb/auto'
import { createStore, get as rawGet, set as rawSet } from 'idb-keyval'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { idbStore } from '../src/store/idb.js'
import { createFallback, slowResponse } from './fallback-helper.js'
import { entry, evictable, text } from './store/helpers.js'

let counter = 0
const freshName = () => `idb-mutants-${Date.now()}-${counter++}`
const raw = (dbName: string) => createStore(dbName, 'responses')
const index = (dbName: string) => rawGet(['lru-index'], raw(dbName))

afterEach(() => {
  vi.restoreAllMocks()
})

/** The connections the stores open, so a test can close them as Safari does (no close event). */
function watchConnections(): IDBDatabase[] {
  const seen: IDBDatabase[] = []
  const transaction = IDBDatabase.prototype.transaction
  vi.spyOn(IDBDatabase.prototype, 'transaction').mockImplementation(function (this: IDBDatabase, ...args: Parameters<IDBDatabase['transaction']>) {
    if (!seen.includes(this)) seen.push(this)
    return transaction.apply(this, args)
  })
  return seen
}

/** An open request that fails on the next task with `error` (a database that can no longer be opened). */
function failingOpen(error: unknown): IDBOpenDBRequest {
  const request = { error } as unknown as IDBOpenDBRequest
  setTimeout(() => request.onerror?.(new Event('error')))
  return request
}

describe('idbStore LRU index', () => {
  it('writing a key it holds again keeps one place for it: the others stay within maxEntries', async () => {
    const dbName = freshName()
    const store = idbStore({ dbName, maxEntries: 2 })
    await store.put('a', entry('a1'))
    await store.put('b', entry('b'))
    await store.put('a', entry('a2'))
    expect(text((await store.get('a'))!.body)).toBe('a2')
    expect(text((await store.get('b'))!.body)).toBe('b')
    expect(await index(dbName)).toEqual(['a', 'b'])
  })

  it('a deleted key leaves the index: evict() then drops half of the entries that are there', async () => {
    const dbName = freshName()
    const store = idbStore({ dbName })
    for (const key of ['a', 'b', 'c', 'd']) await store.put(key, entry(key))
    await store.delete('a')
    expect(await index(dbName)).toEqual(['b', 'c', 'd'])
    await evictable(store).evict()
    expect(await index(dbName)).toEqual(['d'])
    expect(await store.get('c')).toBeUndefined()
  })

  it('an index holding anything but strings is rebuilt from the keys', async () => {
    const dbName = freshName()
    const store = idbStore({ dbName })
    await store.put('a', entry('a'))
    await rawSet(['lru-index'], [7, 'a'], raw(dbName))
    await store.put('b', entry('b'))
    expect(await index(dbName)).toEqual(['a', 'b'])
  })

  it('a read that finds nothing writes nothing', async () => {
    const dbName = freshName()
    const store = idbStore({ dbName })
    await store.put('a', entry('a'))
    const put = vi.spyOn(IDBObjectStore.prototype, 'put')
    expect(await store.get('missing')).toBeUndefined()
    expect(put).not.toHaveBeenCalled()
  })
})

describe('idbStore connections', () => {
  it("gives way to the app's deleteDatabase on logout: the delete is not blocked, and the copies are gone after it", async () => {
    const dbName = freshName()
    const store = idbStore({ dbName })
    await store.put('GET https://a/me', entry('alice'))
    const outcome = await new Promise((resolve) => {
      const request = indexedDB.deleteDatabase(dbName)
      request.onsuccess = () => resolve('deleted')
      request.onblocked = () => resolve('blocked')
    })
    expect(outcome).toBe('deleted')
    expect(await store.get('GET https://a/me')).toBeUndefined()
    await store.put('GET https://a/me', entry('bob'))
    expect(text((await store.get('GET https://a/me'))!.body)).toBe('bob')
  })

  it('opens one new connection for all the operations that found the old one closed', async () => {
    const connections = watchConnections()
    const store = idbStore({ dbName: freshName() })
    await store.put('a', entry('a'))
    connections[0]!.close()
    const open = vi.spyOn(indexedDB, 'open')
    await Promise.all([store.get('a'), store.get('a'), store.put('b', entry('b'))])
    expect(open).toHaveBeenCalledOnce()
  })

  it('where the database can no longer be opened, an operation rejects with the reason after one new try', async () => {
    const connections = watchConnections()
    const store = idbStore({ dbName: freshName() })
    await store.put('a', entry('a'))
    connections[0]!.close()
    const reason = new DOMException('gone', 'UnknownError')
    const open = vi.spyOn(indexedDB, 'open').mockImplementation(() => failingOpen(reason))
    await expect(store.get('a')).rejects.toBe(reason)
    expect(open).toHaveBeenCalledOnce()
  })

  it('an open that fails with no error object rejects with one', async () => {
    const connections = watchConnections()
    const store = idbStore({ dbName: freshName() })
    await store.put('a', entry('a'))
    connections[0]!.close()
    vi.spyOn(indexedDB, 'open').mockImplementation(() => failingOpen(null))
    await expect(store.get('a')).rejects.toThrow(new Error('IndexedDB failed'))
  })
})

describe('idbStore instances on one database', () => {
  it("one instance's clear() (a logout) keeps the copy another on that database has in flight from landing, not one on another database", async () => {
    const [mine, theirs] = [freshName(), freshName()]
    const on = (dbName: string) => createFallback({ store: idbStore({ dbName }), maxAge: 60_000, maxBodyBytes: 1_000_000, private: false }, () => {})
    const [same, other, loggingOut] = [on(mine), on(theirs), on(mine)]
    const request = { url: 'https://api.test/me', headers: new Headers() }
    const writes: Promise<unknown>[] = []
    const slow = [same, other].map((fallback) => {
      const copy = slowResponse()
      fallback.remember(request, copy.response, (p) => writes.push(p))
      return copy
    })
    await loggingOut.clear()
    for (const { response, end } of slow) {
      end()
      await response.text()
    }
    await Promise.all(writes)
    expect(await same.recall(request)).toBeUndefined()
    expect(await (await other.recall(request))?.response.text()).toBe('{"user":"old"}')
  })
})
