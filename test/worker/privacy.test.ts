// What belongs to one user never reaches the shared stores of a Worker (Workers KV, the Cache API) unbound or in clear.
import { env } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'
import type { FallbackRequest } from '../../src/fallback.js'
import { createFallback } from '../fallback-helper.js'
import { cacheStore } from '../../src/store/cache.js'
import { kvStore, type KvNamespaceLike } from '../../src/store/kv.js'
import { createProxy } from '../../src/worker/index.js'
import type { FallbackStore } from '../../src/types.js'
import { context, fakeUpstream, get } from './helpers.js'

const KV = env.LAST_KNOWN_GOOD as KvNamespaceLike
const URL_ME = 'https://api.example.com/me'
const me = (headers: HeadersInit = {}): FallbackRequest => ({ url: URL_ME, headers: new Headers(headers) })

/** A private fallback over `store`, and remember() that waits for the copy to land. */
function privateFallback(store: FallbackStore) {
  const fallback = createFallback({ store, maxAge: 60_000, maxBodyBytes: 10_000, private: true }, () => {})
  return {
    fallback,
    async remember(request: FallbackRequest, response: Response) {
      const ctx = context()
      fallback.remember(request, response, (p) => ctx.waitUntil(p))
      await ctx.settle()
    },
  }
}

describe('the proxy with LAST_KNOWN_GOOD', () => {
  it('keeps no copy of a response to a request with an API key, so an anonymous client is never served it', async () => {
    let fail = false
    const upstream = fakeUpstream((request) =>
      fail ? new Response('down', { status: 503 }) : request.headers.get('x-api-key') === 'KEY-alice' ? Response.json({ user: 'alice' }) : Response.json({ error: 'unauthorized' }, { status: 401 }),
    )
    const handler = createProxy({ upstream: 'http://privacy-upstream.test', lastKnownGood: KV, fetch: upstream.fetch })
    const ctx = context()
    expect(await (await handler(get('/api/me', { headers: { 'x-api-key': 'KEY-alice' } }), undefined, ctx)).json()).toEqual({ user: 'alice' })
    await ctx.settle()
    expect((await KV.list({ prefix: 'resilient-fetch-proxy:GET http://proxy.test/api/me' })).keys).toEqual([])
    fail = true
    const anonymous = await handler(get('/api/me'))
    expect(anonymous.status).toBe(503)
    expect(anonymous.headers.get('x-resilient-source')).toBeNull()
    expect(await anonymous.text()).not.toContain('alice')
  })
})

describe('a private copy whose Vary names a credential', () => {
  it('keeps no API key in KV (metadata or value), and is served only to the same key', async () => {
    const prefix = 'privacy-vary:'
    const t = privateFallback(kvStore(KV, { prefix }))
    await t.remember(me({ 'x-api-key': 'sk_live_ALICE_SECRET', accept: 'application/json' }), Response.json({ plan: 'pro' }, { headers: { vary: 'Accept, X-Api-Key' } }))
    const { keys } = await KV.list({ prefix })
    expect(keys).toHaveLength(1)
    const raw = await KV.getWithMetadata(keys[0]!.name, { type: 'arrayBuffer' })
    expect(JSON.stringify(keys) + JSON.stringify(raw.metadata) + new TextDecoder().decode(raw.value!)).not.toContain('ALICE_SECRET')
    expect(await t.fallback.recall(me({ 'x-api-key': 'sk_live_ALICE_SECRET', accept: 'application/json' }))).toBeDefined()
    expect(await t.fallback.recall(me({ 'x-api-key': 'sk_live_BOB', accept: 'application/json' }))).toBeUndefined()
    expect(await t.fallback.recall(me({ accept: 'application/json' }))).toBeUndefined()
  })
})

describe('the Cache API store', () => {
  it("turns no origin's x-resilient-original-* header into Set-Cookie or the Vary record", async () => {
    const t = privateFallback(cacheStore({ cacheName: 'privacy-original' }))
    const response = new Response('{"user":"alice"}', {
      headers: { vary: 'X-User', 'x-resilient-original-set-cookie': 'sid=FIXED; Path=/', 'x-resilient-original-x-resilient-vary': encodeURIComponent('[]') },
    })
    await t.remember(me({ 'x-user': 'alice' }), response)
    expect(await t.fallback.recall(me({ 'x-user': 'bob' }))).toBeUndefined()
    const { response: copy } = (await t.fallback.recall(me({ 'x-user': 'alice' })))!
    expect(copy.headers.getSetCookie()).toEqual([])
    expect([...copy.headers.keys()].filter((name) => name.startsWith('x-resilient-original'))).toEqual([])
  })
})
