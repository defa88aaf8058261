// kvStore's clear() on a real (Miniflare) Workers KV namespace whose list() lags behind writes, as Cloudflare's does:
// list() is eventually consistent, and a key written in the last minute may not be listed yet.
import { env } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'
import { createResilientFetch } from '../../src/index.js'
import { kvStore, type KvNamespaceLike } from '../../src/store/kv.js'

const KV = env.LAST_KNOWN_GOOD as KvNamespaceLike
let n = 0
const freshPrefix = () => `kv-clear-test-${n++}:`

/** The namespace, with a list() that does not show the keys written through it yet. */
function lagging(): KvNamespaceLike & { catchUp(): void } {
  const hidden = new Set<string>()
  return {
    getWithMetadata: KV.getWithMetadata.bind(KV),
    delete: KV.delete.bind(KV),
    async put(key, value, options) {
      hidden.add(key)
      await KV.put(key, value, options)
    },
    async list(options) {
      const page = await KV.list(options)
      return { ...page, keys: page.keys.filter((k) => !hidden.has(k.name)) }
    },
    catchUp: () => hidden.clear(),
  }
}

const entry = (body: string) => ({ url: 'https://api.example.com/me', status: 200, statusText: 'OK', headers: [] as [string, string][], body: new TextEncoder().encode(body).buffer as ArrayBuffer, storedAt: Date.now() })

describe('kvStore clear() while list() lags behind writes', () => {
  it('deletes the keys this isolate wrote lately, listed or not, and only under its prefix', async () => {
    const namespace = lagging()
    const prefix = freshPrefix()
    const store = kvStore(namespace, { prefix })
    await store.put('GET https://api.example.com/me', entry('alice'))
    await store.put(`GET https://api.example.com/${'long/'.repeat(120)}`, entry('long'))
    const other = kvStore(namespace, { prefix: freshPrefix() })
    await other.put('GET https://api.example.com/me', entry('kept'))
    await store.clear()
    namespace.catchUp()
    expect(await store.get('GET https://api.example.com/me')).toBeUndefined()
    expect(await store.get(`GET https://api.example.com/${'long/'.repeat(120)}`)).toBeUndefined()
    expect((await KV.list({ prefix })).keys).toEqual([])
    expect(new TextDecoder().decode((await other.get('GET https://api.example.com/me'))!.body)).toBe('kept')
  })

  it('another kvStore on the same binding in the isolate (one per request) clears them too', async () => {
    const namespace = lagging()
    const prefix = freshPrefix()
    await kvStore(namespace, { prefix }).put('GET https://api.example.com/me', entry('alice'))
    await kvStore(namespace, { prefix }).clear()
    expect(await kvStore(namespace, { prefix }).get('GET https://api.example.com/me')).toBeUndefined()
  })

  it("behind rf.clear() (a logout), the user's copy written a moment before is never served after it", async () => {
    let status = 200
    const upstream = async () => new Response(JSON.stringify({ user: 'alice' }), { status, headers: { 'content-type': 'application/json' } })
    const st = kvStore(lagging(), { prefix: freshPrefix() })
    const rf = createResilientFetch({ fetch: upstream, retry: false, fallback: { store: st } })
    const work: Promise<unknown>[] = []
    const resilience = { waitUntil: (p: Promise<unknown>) => void work.push(p) }
    await (await rf('https://api.example.com/me', { resilience })).text()
    // The work handed over may hand over more (the copy's write, once the fallback's code has loaded).
    while (work.length > 0) await work.shift()
    const errs: unknown[] = []
    rf.addEventListener('storeerror', (e) => errs.push(String(e.detail.error)))
    status = 503
    // The copy is there before the logout.
    expect((await rf('https://api.example.com/me')).headers.get('x-resilient-source')).toBe('fallback')
    status = 200
    await rf.clear()
    status = 503
    const answer = await rf('https://api.example.com/me')
    expect(answer.status).toBe(503)
    expect(answer.headers.get('x-resilient-source')).toBeNull()
    expect(errs).toEqual([])
  })
})
