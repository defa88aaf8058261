/**
 * A Cache API entry whose x-resilient-url is malformed percent-encoding (damaged, or written by someone else) is a corrupt
 * entry like one without our metadata: deleted when read, never found again.
 */
import { afterEach, expect, it, vi } from 'vitest'
import { createResilientFetch } from '../src/index.js'
import { cacheStore } from '../src/store/cache.js'
import { fakeCaches } from './store/fake-caches.js'
import { entry } from './store/helpers.js'

const URL_A = 'https://api.example.com/items'
const KEY_URL = (key: string) => `https://resilient-fetch.invalid/${encodeURIComponent(key)}`
/** Our metadata, but a URL no encodeURIComponent wrote: decodeURIComponent throws URIError on it. */
const DAMAGED = { 'x-resilient-stored-at': String(Date.now()), 'x-resilient-url': '%E0%A4%A' }

afterEach(() => void vi.unstubAllGlobals())

/** A fake CacheStorage as `caches`, holding a damaged entry under `key` in the store's cache. */
async function install(key: string) {
  const fake = fakeCaches()
  vi.stubGlobal('caches', fake.caches)
  const cache = await fake.caches.open('resilient-fetch')
  await cache.put(KEY_URL(key), new Response('{"items":[]}', { headers: DAMAGED }))
  return fake
}

it('get() deletes an entry whose x-resilient-url is malformed percent-encoding, rejecting with the key; it is not found again', async () => {
  const fake = await install('bad')
  const store = cacheStore()
  await store.put('ok', entry())
  await expect(store.get('bad')).rejects.toThrow('cacheStore: corrupt entry for bad deleted')
  expect(fake.entries('resilient-fetch').has(KEY_URL('bad'))).toBe(false)
  expect(await store.get('bad')).toBeUndefined()
  expect(await store.get('ok')).toBeDefined()
})

it('through the fallback: a failed call reports the damaged entry once and its failure stands; the next finds nothing', async () => {
  const fake = await install(`GET ${URL_A}`)
  const rf = createResilientFetch({ fetch: async () => new Response('down', { status: 500 }), retry: false, fallback: { store: cacheStore() } })
  const errors: unknown[] = []
  rf.addEventListener('storeerror', (event) => errors.push(event.detail.error))
  expect((await rf(URL_A)).status).toBe(500)
  expect(errors).toEqual([expect.objectContaining({ name: 'TypeError', message: `cacheStore: corrupt entry for GET ${URL_A} deleted` })])
  expect(fake.entries('resilient-fetch').size).toBe(0)
  expect((await rf(URL_A)).status).toBe(500)
  expect(errors).toHaveLength(1)
})

it("clear() in a new page deletes every copy of ours, also those listed after a key that is not (malformed percent-encoding)", async () => {
  const fake = fakeCaches()
  vi.stubGlobal('caches', fake.caches)
  const cache = await fake.caches.open('resilient-fetch')
  const valid = { 'x-resilient-stored-at': String(Date.now()), 'x-resilient-url': encodeURIComponent(URL_A) }
  await cache.put(KEY_URL(`GET ${URL_A}?1`), new Response('1', { headers: valid }))
  await cache.put('https://resilient-fetch.invalid/%E0%A4%A', new Response('foreign', { headers: DAMAGED }))
  await cache.put(KEY_URL(`GET ${URL_A}?2`), new Response('2', { headers: valid }))
  // A new page: its store learns the keys from the cache.
  await cacheStore().clear()
  expect([...fake.entries('resilient-fetch').keys()]).toEqual(['https://resilient-fetch.invalid/%E0%A4%A'])
})
