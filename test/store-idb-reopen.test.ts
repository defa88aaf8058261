// @vitest-environment happy-dom
/**
 * Safari (a PWA resumed, a tab left in the background) closes IndexedDB connections without the close event idb-keyval
 * listens for: every transaction on the old connection then throws InvalidStateError ("The database connection is
 * closing"). The store opens a new connection instead of failing every operation until the page reloads.
 */
import 'fake-indexeddb/auto'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { createFallback } from './fallback-helper.js'
import { idbStore } from '../src/store/idb.js'
import { entry, text } from './store/helpers.js'

let counter = 0
const freshName = () => `idb-reopen-${Date.now()}-${counter++}`

/** The connections the stores open, so a test can close them as Safari does: close() fires no close event. */
function watchConnections(): IDBDatabase[] {
  const seen: IDBDatabase[] = []
  const transaction = IDBDatabase.prototype.transaction
  vi.spyOn(IDBDatabase.prototype, 'transaction').mockImplementation(function (this: IDBDatabase, ...args: Parameters<IDBDatabase['transaction']>) {
    if (!seen.includes(this)) seen.push(this)
    return transaction.apply(this, args)
  })
  return seen
}

afterEach(() => void vi.restoreAllMocks())

describe('idbStore whose connection the browser closed without a close event', () => {
  it('opens a new one: reads and writes go on working', async () => {
    const connections = watchConnections()
    const store = idbStore({ dbName: freshName() })
    await store.put('GET https://a/1', entry('one', { url: 'https://a/1' }))
    expect(connections).toHaveLength(1)
    connections[0]!.close()
    expect(text((await store.get('GET https://a/1'))!.body)).toBe('one')
    await store.put('GET https://a/2', entry('two', { url: 'https://a/2' }))
    expect(text((await store.get('GET https://a/2'))!.body)).toBe('two')
    expect(connections).toHaveLength(2)
  })

  it('behind the fallback, the stored copy still answers and new copies land, with no storeerror', async () => {
    const connections = watchConnections()
    const errors: unknown[] = []
    let time = 1_700_000_000_000
    const fallback = createFallback({ store: idbStore({ dbName: freshName() }), maxAge: 86_400_000, maxBodyBytes: 1_000_000, private: false }, (_t, d) => errors.push(d.error), () => time)
    const request = { url: 'https://api.example.com/items', headers: new Headers() }
    const kept: Promise<unknown>[] = []
    fallback.remember(request, new Response('v1'), (p) => kept.push(p))
    await Promise.all(kept)
    connections[0]!.close()
    expect(await (await fallback.recall(request))!.response.text()).toBe('v1')
    time += 2_000
    fallback.remember(request, new Response('v2'), (p) => kept.push(p))
    await Promise.all(kept)
    expect(await (await fallback.recall(request))!.response.text()).toBe('v2')
    expect(errors).toEqual([])
  })

  it('an operation that fails inside its transaction is not run twice', async () => {
    const store = idbStore({ dbName: freshName() })
    await store.put('k', entry('one'))
    const put = vi.spyOn(IDBObjectStore.prototype, 'put').mockImplementation(() => {
      throw new DOMException('full', 'QuotaExceededError')
    })
    await expect(store.put('k', entry('two'))).rejects.toMatchObject({ name: 'QuotaExceededError' })
    expect(put).toHaveBeenCalledOnce()
  })
})
