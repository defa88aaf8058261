// @vitest-environment happy-dom
// Firefox with storage blocked can throw on reading `caches` (a SecurityError from its getter): the fallback's own
// check for the origin's storage once read it unguarded, and nothing was ever stored, even on an explicit idbStore().
import 'fake-indexeddb/auto'
import { createStore, get as rawGet } from 'idb-keyval'
import { afterEach, describe, expect, it } from 'vitest'
import { createFallback } from './fallback-helper.js'
import { idbStore } from '../src/store/idb.js'
import type { FallbackStore } from '../src/types.js'

afterEach(() => {
  delete (globalThis as { caches?: unknown }).caches
})

/** `caches` as Firefox can leave it: there, but reading it throws. */
function blockCaches(): void {
  Object.defineProperty(globalThis, 'caches', {
    configurable: true,
    get() {
      throw new DOMException('The operation is insecure.', 'SecurityError')
    },
  })
}

/** Remembers a 200 for `url` on `store` and recalls it, with the storeerrors seen. */
async function keepAndRecall(store: 'auto' | FallbackStore, url: string) {
  const errors: unknown[] = []
  const fallback = createFallback({ store, maxAge: 60_000, maxBodyBytes: 1_000, private: false }, (_type, detail) => errors.push(detail))
  const request = { url, headers: new Headers() }
  const work: Promise<unknown>[] = []
  fallback.remember(request, new Response('kept'), (p) => work.push(p))
  await Promise.all(work)
  return { errors, text: await (await fallback.recall(request))?.response.text() }
}

describe('where reading `caches` throws', () => {
  it('an idbStore() keeps and serves its copies in IndexedDB', async () => {
    blockCaches()
    const dbName = `caches-throws-${Date.now()}`
    expect(await keepAndRecall(idbStore({ dbName }), 'https://a/idb')).toEqual({ errors: [], text: 'kept' })
    expect((await rawGet('GET https://a/idb', createStore(dbName, 'responses')))?.url).toBe('https://a/idb')
  })

  it("'auto' keeps its copies in IndexedDB", async () => {
    blockCaches()
    expect(await keepAndRecall('auto', 'https://a/auto')).toEqual({ errors: [], text: 'kept' })
    expect((await rawGet('GET https://a/auto', createStore('resilient-fetch', 'responses')))?.url).toBe('https://a/auto')
  })
})
