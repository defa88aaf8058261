// A Cache API entry whose x-resilient-stored-at is blank read as stored at time 0: never served (too old), never deleted.
import { afterEach, describe, expect, it, vi } from 'vitest'
import { cacheStore } from '../src/store/cache.js'
import { cacheKeyUrl, installFakeCaches } from './store/fake-caches.js'

afterEach(() => void vi.unstubAllGlobals())

describe('cacheStore: an entry with a blank time stored', () => {
  const url = encodeURIComponent('https://api.example.com/items')
  for (const [what, storedAt] of [
    ['empty', ''],
    ['of spaces', '   '],
  ])
    it(`(${what}) is corrupt: deleted when read, and the read rejects naming the key`, async () => {
      const fake = installFakeCaches()
      await (await fake.caches.open('resilient-fetch')).put(cacheKeyUrl('k'), new Response('x', { headers: { 'x-resilient-url': url, 'x-resilient-stored-at': storedAt } }))
      await expect(cacheStore().get('k')).rejects.toThrow('cacheStore: corrupt entry for k deleted')
      expect(fake.entries('resilient-fetch').size).toBe(0)
    })
})
