// A recall runs when the upstream has failed, when the network may be down: serving a private copy must not need
// another chunk then. (The credential digest once loaded as a chunk of its own on first use: a page session that
// started offline lost its stored private copy; a slow one outlived the recall's bound.)
import { afterEach, describe, expect, it, vi } from 'vitest'
import { createFallback } from './fallback-helper.js'
import { createResilientFetch } from '../src/index.js'
import { memoryStore } from '../src/store/memory.js'
import type { FallbackStore } from '../src/types.js'

const URL_A = 'https://api.example.com/me'
const AUTH = 'Bearer alice-token'

/** A store holding alice's private copy, as an earlier page session left it. */
async function storeFromEarlierSession(): Promise<FallbackStore> {
  const store = memoryStore()
  const earlier = createFallback({ store, maxAge: 86_400_000, maxBodyBytes: 5 * 1024 * 1024, private: true }, () => {})
  const work: Promise<unknown>[] = []
  earlier.remember({ url: URL_A, headers: new Headers({ authorization: AUTH }) }, Response.json({ me: 'alice' }), (p) => work.push(p))
  await Promise.all(work)
  return store
}

function instance(store: FallbackStore, fetch: typeof globalThis.fetch) {
  const rf = createResilientFetch({ fetch, retry: false, breaker: false, fallback: { store, private: true } })
  const storeErrors: unknown[] = []
  rf.addEventListener('storeerror', (e) => storeErrors.push((e as CustomEvent).detail.error))
  return { rf, storeErrors }
}

afterEach(() => {
  vi.doUnmock('../src/store/digest.js')
})

describe('a private copy is served on the failure path without loading another chunk', () => {
  it('offline: no chunk can be fetched any more than the API, and the stored private copy still answers', async () => {
    const store = await storeFromEarlierSession()
    vi.doMock('../src/store/digest.js', () => {
      throw new TypeError('Failed to fetch dynamically imported module: https://app.example/assets/digest-3f2a.js')
    })
    const { rf, storeErrors } = instance(store, async () => {
      throw new TypeError('Failed to fetch')
    })
    const response = await rf(URL_A, { headers: { authorization: AUTH } })
    expect(await response.json()).toEqual({ me: 'alice' })
    expect(storeErrors).toEqual([])
  })
})
