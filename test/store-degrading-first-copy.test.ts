// @vitest-environment happy-dom
// A store whose storage proves missing or broken keeps its copies in memory, the copy of the operation that found out
// too: that operation once rejected after switching, and the first copy after a page load was lost.
import 'fake-indexeddb/auto'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { createFallback } from './fallback-helper.js'
import { cacheStore } from '../src/store/cache.js'
import { idbStore } from '../src/store/idb.js'
import type { FallbackStore } from '../src/types.js'
import { entry, text } from './store/helpers.js'

afterEach(() => {
  vi.unstubAllGlobals()
  vi.useRealTimers()
})

const UNAVAILABLE = /is unavailable, keeping fallback copies in memory/
let counter = 0

/** The text of `key`'s entry in `store`, undefined when it holds none. */
async function stored(store: FallbackStore, key: string): Promise<string | undefined> {
  const found = await store.get(key)
  return found && text(found.body)
}

/** The ways storage is unusable, each with the store it leaves in memory. */
const cases: [string, () => FallbackStore][] = [
  ['idbStore where IndexedDB is missing', () => (vi.stubGlobal('indexedDB', undefined), idbStore({ dbName: `first-copy-${counter++}` }))],
  ['cacheStore where caches.open rejects', () => (vi.stubGlobal('caches', { open: () => Promise.reject(new DOMException('insecure', 'SecurityError')) }), cacheStore())],
]

describe.each(cases)('%s', (_name, make) => {
  it('the operation that finds out is done in memory, then rejects saying why; later ones do not reject', async () => {
    const store = make()
    await expect(store.put('k', entry('first'))).rejects.toThrow(UNAVAILABLE)
    expect(await stored(store, 'k')).toBe('first')
  })

  it('of operations waiting on the same open, each is done and one rejects', async () => {
    const store = make()
    const results = await Promise.allSettled([store.put('a', entry('a')), store.put('b', entry('b')), store.get('a')])
    expect(results.filter(({ status }) => status === 'rejected')).toHaveLength(1)
    expect(await stored(store, 'a')).toBe('a')
    expect(await stored(store, 'b')).toBe('b')
  })

  it('behind the fallback, the first copy is served, with one storeerror', async () => {
    const errors: unknown[] = []
    const fallback = createFallback({ store: make(), maxAge: 60_000, maxBodyBytes: 1_000, private: false }, (_type, detail) => errors.push(detail))
    const request = { url: 'https://a/first', headers: new Headers() }
    const work: Promise<unknown>[] = []
    fallback.remember(request, new Response('first'), (p) => work.push(p))
    await Promise.all(work)
    expect(await (await fallback.recall(request))?.response.text()).toBe('first')
    expect(errors).toEqual([{ key: 'https://a', error: expect.objectContaining({ message: expect.stringMatching(UNAVAILABLE) }) }])
  })
})

it('cacheStore where caches.open never settles: after 2 s the first copy is in memory', async () => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] })
  vi.stubGlobal('caches', { open: () => new Promise(() => {}) })
  const store = cacheStore()
  const first = store.put('k', entry('first'))
  first.catch(() => {})
  await vi.advanceTimersByTimeAsync(2_000)
  await expect(first).rejects.toMatchObject({ cause: new Error('caches.open("resilient-fetch") did not finish within 2000 ms') })
  expect(await stored(store, 'k')).toBe('first')
})
