// kvStore on a local Workers KV namespace in workerd (Miniflare's KV, bound as LAST_KNOWN_GOOD), and
// the proxy keeping its copies there.
import { env } from 'cloudflare:workers'
import { describe, expect, it, vi } from 'vitest'
import { createFallback } from '../fallback-helper.js'
import { createResilientFetch } from '../../src/index.js'
import { kvStore, type KvNamespaceLike } from '../../src/store/kv.js'
import { createProxy } from '../../src/worker/index.js'
import type { StoredResponse } from '../../src/types.js'
import { context, fakeUpstream, get } from './helpers.js'

const KV = env.LAST_KNOWN_GOOD as KvNamespaceLike
let n = 0
/** A fresh prefix per test: the namespace is shared by the file. */
const freshPrefix = () => `kv-test-${n++}:`

function entry(body: string, headers: [string, string][] = [['content-type', 'text/plain']], url = 'https://api.example.com/x'): StoredResponse {
  return { url, status: 200, statusText: 'OK', headers, body: new TextEncoder().encode(body).buffer as ArrayBuffer, storedAt: 1_700_000_000_123 }
}

const text = (e: StoredResponse | undefined) => new TextDecoder().decode(e!.body)

describe('kvStore', () => {
  it('keeps the body as the value and the rest in the metadata, within KV’s 1024 bytes', async () => {
    const prefix = freshPrefix()
    const store = kvStore(KV, { prefix })
    const stored = entry('hello', [['content-type', 'text/plain'], ['etag', '"1"']])
    await store.put('GET https://api.example.com/x', stored)
    expect(await store.get('GET https://api.example.com/x')).toEqual(stored)
    const raw = await KV.getWithMetadata(`${prefix}GET https://api.example.com/x`, { type: 'arrayBuffer' })
    expect(new TextDecoder().decode(raw.value!)).toBe('hello')
    expect(raw.metadata).toEqual({ v: 1, s: 200, at: 1_700_000_000_123, u: 'https://api.example.com/x', t: 'OK', h: [['content-type', 'text/plain'], ['etag', '"1"']] })
    expect(new TextEncoder().encode(JSON.stringify(raw.metadata)).byteLength).toBeLessThanOrEqual(1024)
    expect(await store.get('GET https://api.example.com/y')).toBeUndefined()
  })

  it('headers too large for the metadata go in front of the body, and come back whole', async () => {
    const prefix = freshPrefix()
    const store = kvStore(KV, { prefix })
    const headers: [string, string][] = [['content-type', 'application/json'], ['content-security-policy', `default-src 'self'; ${'x'.repeat(1_500)}`], ['x-é', 'ünïcode']]
    const stored = entry('{"big":true}', headers)
    await store.put('big', stored)
    const raw = await KV.getWithMetadata(`${prefix}big`, { type: 'arrayBuffer' })
    expect(new TextEncoder().encode(JSON.stringify(raw.metadata)).byteLength).toBeLessThanOrEqual(1024)
    expect(raw.metadata).toEqual({ v: 1, s: 200, at: 1_700_000_000_123, n: expect.any(Number) })
    expect(await store.get('big')).toEqual(stored)
  })

  it('a key over KV’s 512 bytes (a long URL) is stored under its SHA-256', async () => {
    const prefix = freshPrefix()
    const store = kvStore(KV, { prefix })
    const long = `GET https://api.example.com/search?q=${'a'.repeat(600)}`
    await store.put(long, entry('long'))
    expect(text(await store.get(long))).toBe('long')
    const { keys } = await KV.list({ prefix })
    expect(keys.map((k) => k.name)).toEqual([expect.stringMatching(new RegExp(`^${prefix}#[0-9a-f]{64}$`))])
    await store.delete(long)
    expect(await store.get(long)).toBeUndefined()
  })

  it('does not store a body over maxBodyBytes', async () => {
    const store = kvStore(KV, { prefix: freshPrefix(), maxBodyBytes: 4 })
    await store.put('small', entry('1234'))
    await store.put('large', entry('12345'))
    expect(text(await store.get('small'))).toBe('1234')
    expect(await store.get('large')).toBeUndefined()
  })

  it('writes with expirationTtl (KV deletes the entry by itself)', async () => {
    const puts: unknown[] = []
    const spy: KvNamespaceLike = { ...KV, getWithMetadata: KV.getWithMetadata.bind(KV), list: KV.list.bind(KV), delete: KV.delete.bind(KV), put: async (...args) => void puts.push(args[2]) }
    await kvStore(spy, { prefix: freshPrefix(), expirationTtl: 3_600 }).put('k', entry('x'))
    await kvStore(spy, { prefix: freshPrefix() }).put('k', entry('x'))
    expect(puts).toEqual([expect.objectContaining({ expirationTtl: 3_600 }), expect.objectContaining({ expirationTtl: 86_400 })])
  })

  it('a corrupt entry is deleted when read, and the read rejects naming the key', async () => {
    const prefix = freshPrefix()
    const store = kvStore(KV, { prefix })
    await KV.put(`${prefix}bad`, new TextEncoder().encode('not ours'), { metadata: { v: 1, s: 200 } })
    await KV.put(`${prefix}spilled`, new TextEncoder().encode('{"u":'), { metadata: { v: 1, s: 200, at: 1, n: 5 } })
    for (const key of ['bad', 'spilled']) {
      await expect(store.get(key)).rejects.toThrow(`kvStore: corrupt entry for ${key} deleted`)
      expect(await KV.getWithMetadata(`${prefix}${key}`, { type: 'arrayBuffer' })).toMatchObject({ value: null })
    }
  })

  it('clear() deletes this prefix’s keys only', async () => {
    const prefix = freshPrefix()
    const other = freshPrefix()
    const store = kvStore(KV, { prefix })
    await store.put('a', entry('a'))
    await store.put('b', entry('b'))
    await kvStore(KV, { prefix: other }).put('a', entry('other'))
    await store.clear()
    expect(await store.get('a')).toBeUndefined()
    expect(await store.get('b')).toBeUndefined()
    expect(text(await kvStore(KV, { prefix: other }).get('a'))).toBe('other')
  })

  it('a write KV refuses with 429 (another isolate wrote the key within the second) counts as done; other errors reject', async () => {
    let error = new Error('KV PUT failed: 429 Too Many Requests')
    const limited: KvNamespaceLike = { ...KV, getWithMetadata: KV.getWithMetadata.bind(KV), list: KV.list.bind(KV), delete: KV.delete.bind(KV), put: async () => Promise.reject(error) }
    const store = kvStore(limited, { prefix: freshPrefix() })
    await expect(store.put('k', entry('x'))).resolves.toBeUndefined()
    error = new Error('KV PUT failed: 500 Internal Server Error')
    await expect(store.put('k2', entry('x'))).rejects.toThrow('500')
  })

  it('rejects unknown options and bad values by name', () => {
    expect(() => kvStore(KV, { prefx: 'a' } as never)).toThrow('kvStore options.prefx is not an option (known: prefix, expirationTtl, maxBodyBytes)')
    expect(() => kvStore(KV, { prefix: '' })).toThrow('kvStore options.prefix must be a non-empty string of at most 256 bytes, got ""')
    expect(() => kvStore(KV, { expirationTtl: 30 })).toThrow("kvStore options.expirationTtl must be at least 60 (seconds, KV's minimum), got 30")
    expect(() => kvStore(KV, { expirationTtl: 1.5 })).toThrow('kvStore options.expirationTtl must be a positive integer, got 1.5')
    expect(() => kvStore(KV, { maxBodyBytes: 26 * 1024 * 1024 })).toThrow("kvStore options.maxBodyBytes must be at most 26214400 (KV's value limit), got 27262976")
    expect(() => kvStore({} as never)).toThrow('kvStore(namespace): namespace must be a Workers KV namespace binding (missing getWithMetadata()), got {}')
    expect(() => kvStore(undefined, { prefx: 'a' } as never)).toThrow('kvStore options.prefx is not an option')
  })

  it('a missing binding (undefined) is missing storage: copies are kept in memory, and the first use says why, once', async () => {
    let down = false
    const upstream = async () => new Response('ok', { status: down ? 500 : 200 })
    const rf = createResilientFetch({ fetch: upstream, retry: false, fallback: { store: kvStore(undefined) } })
    const errors: unknown[] = []
    rf.addEventListener('storeerror', (e) => errors.push(e.detail.error))
    expect((await rf('https://a.test/x')).status).toBe(200)
    await vi.waitFor(() => expect(errors).toHaveLength(1))
    expect(String(errors[0])).toContain('kvStore: the KV namespace binding is undefined (is it under [[kv_namespaces]] in wrangler.toml?), keeping fallback copies in memory')
    expect((await rf('https://a.test/y')).status).toBe(200)
    await vi.waitFor(() => expect(rf.snapshot().totals.successes).toBe(2))
    // Both good responses are in memory, the first (whose write said why) too, and answer the failures after them.
    down = true
    for (const path of ['/x', '/y']) await vi.waitFor(async () => expect((await rf(`https://a.test${path}`)).headers.get('x-resilient-source')).toBe('fallback'))
    expect(errors).toHaveLength(1)
  })

  it('a failing KV never fails a call: the fallback skips it with a storeerror', async () => {
    const broken: KvNamespaceLike = {
      getWithMetadata: async () => Promise.reject(new Error('KV GET failed: 503')),
      put: async () => Promise.reject(new Error('KV PUT failed: 503')),
      delete: async () => {},
      list: async () => ({ keys: [], list_complete: true }),
    }
    const errors: unknown[] = []
    const fallback = createFallback({ store: kvStore(broken), maxAge: 60_000, maxBodyBytes: 1_000, private: false }, (_type, detail) => errors.push(detail.error))
    const request = { url: 'https://api.example.com/x', headers: new Headers() }
    const waits: Promise<unknown>[] = []
    fallback.remember(request, Response.json({ ok: true }), (p) => waits.push(p))
    await Promise.all(waits)
    expect(await fallback.recall(request)).toBeUndefined()
    expect(errors.map((e) => (e as Error).message)).toEqual(['KV PUT failed: 503', 'KV GET failed: 503'])
  })
})

describe('the proxy with LAST_KNOWN_GOOD', () => {
  it('writes its copy to KV and serves it when the upstream fails', async () => {
    vi.spyOn(console, 'log').mockImplementation(() => {})
    let fail = false
    const upstream = fakeUpstream(() => (fail ? new Response('down', { status: 503 }) : Response.json({ version: 7 }, { headers: { 'x-kept': 'yes' } })))
    const handler = createProxy({ upstream: 'http://kv-upstream.test', lastKnownGood: KV, fetch: upstream.fetch })
    const ctx = context()
    expect(await (await handler(get('/api/kv?x=1'), undefined, ctx)).json()).toEqual({ version: 7 })
    await ctx.settle()
    const raw = await KV.getWithMetadata('resilient-fetch-proxy:GET http://proxy.test/api/kv?x=1', { type: 'arrayBuffer' })
    expect(JSON.parse(new TextDecoder().decode(raw.value!))).toEqual({ version: 7 })
    fail = true
    // A new isolate (a new proxy, nothing in memory) finds the copy in KV.
    const other = createProxy({ upstream: 'http://kv-upstream.test', lastKnownGood: KV, fetch: upstream.fetch })
    const response = await other(get('/api/kv?x=1'))
    expect(response.status).toBe(200)
    expect(response.headers.get('x-resilient-source')).toBe('fallback')
    expect(response.headers.get('x-kept')).toBe('yes')
    expect(await response.json()).toEqual({ version: 7 })
    vi.restoreAllMocks()
  })
})
