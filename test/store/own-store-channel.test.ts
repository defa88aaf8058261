/**
 * Only an instance on the origin's storage has other tabs to tell of a clear(): one on a store of its own opens no
 * BroadcastChannel (a channel with a listener costs the page its place in the back/forward cache, test/e2e/bfcache.test.ts).
 * Its own file: the channel, once open, is the realm's.
 */
import { afterEach, expect, it, vi } from 'vitest'
import { createFallback } from '../fallback-helper.js'
import { fakeCaches } from './fake-caches.js'
import { memoryStore } from '../../src/store/memory.js'

afterEach(() => {
  vi.unstubAllGlobals()
})

it("an instance on 'memory', or on a store with no scope, opens no channel to other tabs, even in a page with the Cache API", async () => {
  const opened: string[] = []
  vi.stubGlobal('caches', fakeCaches().caches)
  vi.stubGlobal('document', {})
  vi.stubGlobal(
    'BroadcastChannel',
    class {
      constructor(name: string) {
        opened.push(name)
      }
      postMessage(): void {}
      close(): void {}
    },
  )
  const options = { maxAge: 60_000, maxBodyBytes: 1_000_000, private: false }
  const own = [createFallback({ ...options, store: 'memory' }, () => {}), createFallback({ ...options, store: memoryStore() }, () => {})]
  for (const fallback of own) await fallback.clear()
  expect(opened).toEqual([])
})
