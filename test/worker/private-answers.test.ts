import { env } from 'cloudflare:workers'
import { describe, expect, inject, it } from 'vitest'
import { createProxy } from '../../src/worker/index.js'
import type { KvNamespaceLike } from '../../src/store/kv.js'
import { context, get } from './helpers.js'

// A real upstream (shared-upstream.ts) answers alice privately, and its Connection header names the very
// header that says so. Connection is for the hop to the client: the fallback must still see the answer as
// private, and never serve it to bob when the upstream goes down.
const [A] = inject('sharedUpstreamUrls')
const takeDown = async (path: string) => void (await fetch(`${A}/__down?path=${encodeURIComponent(path)}`)).body?.cancel()

describe.each([
  { store: 'memory', config: { store: 'memory' as const } },
  { store: 'KV', config: { lastKnownGood: env.LAST_KNOWN_GOOD as KvNamespaceLike } },
])('an upstream answer whose Connection names its privacy header ($store)', ({ store, config }) => {
  it.each([
    ['cache-control', 'no-store, private'],
    ['set-cookie', 'sid=alice-session; Path=/; HttpOnly'],
  ])('Connection: %s: alice gets it, it is not stored, bob gets no copy when the upstream fails', async (name, value) => {
    const path = `/hop/${name}/${store}`
    const handler = createProxy({ upstream: A, ...config })
    const ctx = context()
    const alice = await handler(get(`/api${path}`, { headers: { 'x-user': 'alice' } }), undefined, ctx)
    expect(alice.status).toBe(200)
    // The client is told, too: a cache in front of the proxy decides by it.
    expect(alice.headers.get(name)).toBe(value)
    expect(await alice.json()).toEqual({ user: 'alice', path })
    await ctx.settle()
    await takeDown(path)
    const bob = await handler(get(`/api${path}`, { headers: { 'x-user': 'bob' } }), undefined, ctx)
    expect(bob.headers.get('x-resilient-source')).toBeNull()
    expect(bob.status).toBe(503)
    expect(await bob.json()).toEqual({ error: 'upstream_error', key: A })
  })

  it('Connection: vary: the copy is kept for alice\'s X-User only; bob gets no copy', async () => {
    const path = `/hop/vary/${store}`
    const handler = createProxy({ upstream: A, ...config })
    const ctx = context()
    const alice = await handler(get(`/api${path}`, { headers: { 'x-user': 'alice' } }), undefined, ctx)
    expect(alice.headers.get('vary')).toBe('X-User')
    expect(await alice.json()).toEqual({ user: 'alice', path })
    await ctx.settle()
    await takeDown(path)
    const bob = await handler(get(`/api${path}`, { headers: { 'x-user': 'bob' } }), undefined, ctx)
    expect(bob.status).toBe(503)
    await bob.body?.cancel()
    const again = await handler(get(`/api${path}`, { headers: { 'x-user': 'alice' } }), undefined, ctx)
    expect(again.headers.get('x-resilient-source')).toBe('fallback')
    expect(await again.json()).toEqual({ user: 'alice', path })
  })
})

it('Connection: pragma does not take Pragma from the client\'s answer', async () => {
  const response = await createProxy({ upstream: A, store: 'memory' })(get('/api/hop/pragma/x'))
  expect(response.headers.get('pragma')).toBe('no-cache')
  expect(response.headers.has('connection')).toBe(false)
  await response.body?.cancel()
})
