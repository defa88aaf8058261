// KV takes one write per key per second. A Worker that makes its resilient fetch (and its kvStore) per request, as
// `env` invites, has no fallback instance to hold a URL's copies to one a second: the store does, per binding and isolate.
import { env } from 'cloudflare:workers'
import { describe, expect, it, vi } from 'vitest'
import { createResilientFetch } from '../../src/index.js'
import { kvStore, type KvNamespaceLike } from '../../src/store/kv.js'

const KV = env.LAST_KNOWN_GOOD as KvNamespaceLike
let n = 0
const freshPrefix = () => `kv-writes-test-${n++}:`

/** The namespace, counting the writes that reach it. */
function counting(): KvNamespaceLike & { puts: string[] } {
  const puts: string[] = []
  return {
    puts,
    getWithMetadata: KV.getWithMetadata.bind(KV),
    delete: KV.delete.bind(KV),
    list: KV.list.bind(KV),
    async put(key, value, options) {
      puts.push(key)
      await KV.put(key, value, options)
    },
  }
}

const entry = (body: string, storedAt = Date.now()) => ({ url: 'https://api.example.com/x', status: 200, statusText: 'OK', headers: [] as [string, string][], body: new TextEncoder().encode(body).buffer as ArrayBuffer, storedAt })

describe('kvStore writes of one key', () => {
  it('a resilient fetch made per request writes a URL to KV at most once a second, whatever the request rate', async () => {
    const namespace = counting()
    const prefix = freshPrefix()
    for (let i = 0; i < 5; i++) {
      // One request: its own instance, its own store, on the same binding.
      const rf = createResilientFetch({ fetch: async () => new Response(`v${i}`), retry: false, fallback: { store: kvStore(namespace, { prefix }) } })
      const work: Promise<unknown>[] = []
      await (await rf('https://api.example.com/x', { resilience: { waitUntil: (p) => void work.push(p) } })).text()
      while (work.length > 0) await work.shift()
    }
    expect(namespace.puts).toEqual([`${prefix}GET https://api.example.com/x`])
  })

  it('a second later the key is written again; other keys and other prefixes are not held back', async () => {
    const namespace = counting()
    const prefix = freshPrefix()
    const now = vi.spyOn(Date, 'now').mockReturnValue(1_800_000_000_000)
    try {
      await kvStore(namespace, { prefix }).put('a', entry('1'))
      await kvStore(namespace, { prefix }).put('a', entry('2'))
      await kvStore(namespace, { prefix }).put('b', entry('b'))
      await kvStore(namespace, { prefix: freshPrefix() }).put('a', entry('other'))
      expect(namespace.puts).toHaveLength(3)
      now.mockReturnValue(1_800_000_000_999)
      await kvStore(namespace, { prefix }).put('a', entry('3'))
      expect(namespace.puts).toHaveLength(3)
      now.mockReturnValue(1_800_000_001_000)
      await kvStore(namespace, { prefix }).put('a', entry('4'))
      expect(namespace.puts).toHaveLength(4)
      expect(new TextDecoder().decode((await kvStore(namespace, { prefix }).get('a'))!.body)).toBe('4')
    } finally {
      now.mockRestore()
    }
  })

  it('after a delete or a clear() the next write lands at once', async () => {
    const namespace = counting()
    const prefix = freshPrefix()
    const store = kvStore(namespace, { prefix })
    await store.put('a', entry('1'))
    await store.delete('a')
    await store.put('a', entry('2'))
    await store.clear()
    await store.put('a', entry('3'))
    expect(namespace.puts).toHaveLength(3)
    expect(new TextDecoder().decode((await store.get('a'))!.body)).toBe('3')
  })
})
