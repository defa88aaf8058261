// kvStore in Node, on a fake Workers KV namespace that behaves as Cloudflare's does where it matters here: values are
// bytes copied on put, metadata is a JSON copy, list() pages in key order with a cursor. What the worker suite cannot
// reach cheaply: exact bounds (key, metadata and value bytes, one write a second), damaged entries of every shape, paging.
import { afterEach, describe, expect, it, vi } from 'vitest'
import { kvStore, type KvNamespaceLike } from '../src/store/kv.js'
import type { StoredResponse } from '../src/types.js'

interface Stored {
  value: ArrayBuffer
  metadata: unknown
}

/** A fake KV namespace; `pageSize` bounds list() pages, `hidden` keys are left out of list() (not listed yet). */
function fakeKv(pageSize = 1_000) {
  const data = new Map<string, Stored>()
  const hidden = new Set<string>()
  const calls: string[] = []
  const namespace: KvNamespaceLike = {
    async getWithMetadata(key, options) {
      calls.push(`get ${key}`)
      const found = data.get(key)
      if (found === undefined) return { value: null, metadata: null }
      // As KV's: text unless asked for an ArrayBuffer.
      const value = options?.type === 'arrayBuffer' ? found.value.slice(0) : (new TextDecoder().decode(found.value) as never)
      return { value, metadata: structuredClone(found.metadata) }
    },
    async put(key, value, options) {
      calls.push(`put ${key}`)
      const view = ArrayBuffer.isView(value) ? new Uint8Array(value.buffer, value.byteOffset, value.byteLength) : new Uint8Array(value)
      data.set(key, { value: view.slice().buffer, metadata: options?.metadata === undefined ? null : JSON.parse(JSON.stringify(options.metadata)) })
    },
    async delete(key) {
      calls.push(`delete ${key}`)
      data.delete(key)
    },
    async list(options) {
      // Every option passed shows, an undefined one too.
      calls.push(`list ${JSON.stringify(options, (_k, v: unknown) => (v === undefined ? 'undefined' : v))}`)
      const names = [...data.keys()].filter((k) => k.startsWith(options?.prefix ?? '') && !hidden.has(k)).sort()
      // The cursor is the last key listed: the next page starts after it, whatever was deleted meanwhile.
      const after = options?.cursor
      const rest = after === undefined ? names : names.filter((k) => k > after)
      const keys = rest.slice(0, pageSize).map((name) => ({ name }))
      return rest.length <= pageSize ? { keys, list_complete: true } : { keys, list_complete: false, cursor: keys.at(-1)!.name }
    },
  }
  return { namespace, data, hidden, calls }
}

const encoder = new TextEncoder()
const text = (e: StoredResponse | undefined) => new TextDecoder().decode(e!.body)

function entry(body: string, overrides: Partial<StoredResponse> = {}): StoredResponse {
  return { url: 'https://api.example.com/x', status: 200, statusText: 'OK', headers: [['content-type', 'text/plain']], body: encoder.encode(body).buffer as ArrayBuffer, storedAt: 1_700_000_000_000, ...overrides }
}

let n = 0
const freshPrefix = () => `p${n++}:`

afterEach(() => {
  vi.restoreAllMocks()
})

describe('kvStore keys', () => {
  it('a key of exactly 512 bytes with its prefix is kept as it is; one byte more is stored under its SHA-256, in lower-case hex', async () => {
    const { namespace, data } = fakeKv()
    const prefix = 'k:'
    const store = kvStore(namespace, { prefix })
    const fits = 'a'.repeat(510)
    const over = 'b'.repeat(511)
    await store.put(fits, entry('fits'))
    await store.put(over, entry('over'))
    const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', encoder.encode(over)))
    const hex = [...digest].map((b) => b.toString(16).padStart(2, '0')).join('')
    expect([...data.keys()].sort()).toEqual([`k:#${hex}`, `k:${fits}`].sort())
    expect(hex).toMatch(/^[0-9a-f]{64}$/)
    expect(text(await store.get(over))).toBe('over')
    expect(text(await store.get(fits))).toBe('fits')
  })

  it('writes every byte of the SHA-256 as two hex digits (bytes under 16 too)', async () => {
    const { namespace, data } = fakeKv()
    const key = `GET https://api.example.com/${'x'.repeat(500)}0`
    await kvStore(namespace, { prefix: 'k:' }).put(key, entry('x'))
    expect([...data.keys()]).toEqual(['k:#0bdcb4f5f0f719e2e0ddc15d066c1bcfee699553eaf942360658e9880d00c8e0'])
  })

  it('counts key bytes, not characters (a URL with non-ASCII characters)', async () => {
    const { namespace, data } = fakeKv()
    const store = kvStore(namespace, { prefix: 'k:' })
    // 300 characters, 600 bytes.
    const key = 'é'.repeat(300)
    await store.put(key, entry('x'))
    expect([...data.keys()]).toEqual([expect.stringMatching(/^k:#[0-9a-f]{64}$/)])
  })
})

describe('kvStore metadata', () => {
  /** Headers whose inline metadata serializes to exactly `size` bytes. */
  function headersFor(size: number): [string, string][] {
    const base = JSON.stringify({ v: 1, s: 200, at: 1_700_000_000_000, u: 'https://api.example.com/x', t: 'OK', h: [['x-pad', '']] })
    return [['x-pad', 'p'.repeat(size - encoder.encode(base).byteLength)]]
  }

  it('metadata of exactly 1024 bytes stays inline; 1025 bytes moves the head in front of the body', async () => {
    const { namespace, data } = fakeKv()
    const store = kvStore(namespace, { prefix: 'm:' })
    await store.put('inline', entry('body', { headers: headersFor(1024) }))
    await store.put('spilled', entry('body', { headers: headersFor(1025) }))
    const inline = data.get('m:inline')!
    expect(encoder.encode(JSON.stringify(inline.metadata)).byteLength).toBe(1024)
    expect(new TextDecoder().decode(inline.value)).toBe('body')
    const spilled = data.get('m:spilled')!
    const head = JSON.stringify({ u: 'https://api.example.com/x', t: 'OK', h: headersFor(1025) })
    expect(spilled.metadata).toEqual({ v: 1, s: 200, at: 1_700_000_000_000, n: encoder.encode(head).byteLength })
    expect(new TextDecoder().decode(spilled.value)).toBe(`${head}body`)
    expect(await store.get('inline')).toEqual(entry('body', { headers: headersFor(1024) }))
    expect(await store.get('spilled')).toEqual(entry('body', { headers: headersFor(1025) }))
  })
})

describe('kvStore reads', () => {
  it('a key never written reads as undefined, and nothing is deleted', async () => {
    const { namespace, calls } = fakeKv()
    expect(await kvStore(namespace, { prefix: 'r:' }).get('missing')).toBeUndefined()
    expect(calls).toEqual(['get r:missing'])
  })
})

describe('kvStore damaged entries', () => {
  const good = { v: 1, s: 200, at: 5, u: 'https://a.test/', t: 'OK', h: [['a', 'b']] }
  const shapes: [string, unknown][] = [
    ['no metadata', null],
    ['metadata not an object', 'v1'],
    ['another format', { ...good, v: 2 }],
    ['a status that is no integer', { ...good, s: 200.5 }],
    ['no time stored', { ...good, at: undefined }],
    ['a time stored that is a string', { ...good, at: '5' }],
    ['a time stored that is not finite', { ...good, at: 1e400 }],
    ['no URL', { ...good, u: undefined }],
    ['no status text', { ...good, t: 1 }],
    ['headers not a list', { ...good, h: 'a: b' }],
    ['a header that is no pair', { ...good, h: [['a']] }],
    ['a header of three', { ...good, h: [['a', 'b', 'c']] }],
    ['a header name that is no string', { ...good, h: [[1, 'b']] }],
    ['a header value that is no string', { ...good, h: [['a', 2]] }],
    ['a header that is no array', { ...good, h: ['ab'] }],
  ]
  for (const [what, metadata] of shapes)
    it(`an entry with ${what} is deleted when read, and the read rejects naming the key`, async () => {
      const { namespace, data } = fakeKv()
      await namespace.put('d:k', encoder.encode('x'), { metadata })
      const store = kvStore(namespace, { prefix: 'd:' })
      await expect(store.get('k')).rejects.toThrow('kvStore: corrupt entry for k deleted')
      expect(data.has('d:k')).toBe(false)
    })

  const heads: [string, unknown, string][] = [
    ['a head length that is negative', -1, '{}'],
    ['a head length past the value', 3, '{}'],
    ['a head length that is no integer', 1.5, '{"u":"x"}'],
    ['a head length that is null', null, '{}'],
    ['a head that is no JSON', 3, '{"u'],
    ['a head that is JSON null', 4, 'null'],
    ['a head without the URL', 2, '{}'],
  ]
  for (const [what, length, value] of heads)
    it(`an entry with ${what} is deleted when read, and the read rejects naming the key`, async () => {
      const { namespace, data } = fakeKv()
      await namespace.put('d:k', encoder.encode(value), { metadata: { v: 1, s: 200, at: 5, n: length } })
      const store = kvStore(namespace, { prefix: 'd:' })
      await expect(store.get('k')).rejects.toThrow('kvStore: corrupt entry for k deleted')
      expect(data.has('d:k')).toBe(false)
    })

  it('a head length that is no integer is damage, even where the bytes before it parse as a whole head', async () => {
    const { namespace, data } = fakeKv()
    const head = '{"u":"https://a.test/","t":"OK","h":[]}'
    await namespace.put('d:k', encoder.encode(`${head}body`), { metadata: { v: 1, s: 200, at: 5, n: head.length + 0.5 } })
    await expect(kvStore(namespace, { prefix: 'd:' }).get('k')).rejects.toThrow('kvStore: corrupt entry for k deleted')
    expect(data.has('d:k')).toBe(false)
  })

  it('a head that is no JSON is damage, even where the metadata holds a whole entry', async () => {
    const { namespace, data } = fakeKv()
    await namespace.put('d:k', encoder.encode('{"ubody'), { metadata: { ...good, n: 3 } })
    await expect(kvStore(namespace, { prefix: 'd:' }).get('k')).rejects.toThrow('kvStore: corrupt entry for k deleted')
    expect(data.has('d:k')).toBe(false)
  })

  it('the body is what follows the head, to the byte', async () => {
    const { namespace } = fakeKv()
    const head = '{"u":"https://a.test/","t":"OK","h":[["x-é","ü"]]}'
    const bytes = encoder.encode(head)
    await namespace.put('d:k', new Uint8Array([...bytes, ...encoder.encode('body')]), { metadata: { v: 1, s: 200, at: 5, n: bytes.byteLength } })
    const back = await kvStore(namespace, { prefix: 'd:' }).get('k')
    expect(text(back)).toBe('body')
    expect(back!.headers).toEqual([['x-é', 'ü']])
  })

  it('a head as long as the whole value (an empty body) is read back', async () => {
    const { namespace } = fakeKv()
    const head = '{"u":"https://a.test/","t":"OK","h":[]}'
    await namespace.put('d:k', encoder.encode(head), { metadata: { v: 1, s: 204, at: 5, n: head.length } })
    expect(await kvStore(namespace, { prefix: 'd:' }).get('k')).toEqual({ url: 'https://a.test/', status: 204, statusText: 'OK', headers: [], body: new ArrayBuffer(0), storedAt: 5 })
  })
})

describe('kvStore writes', () => {
  it('a clock set back lets the next write of a key land at once, as does one a whole second later; one within the second is skipped', async () => {
    const { namespace, calls } = fakeKv()
    const store = kvStore(namespace, { prefix: freshPrefix() })
    const now = vi.spyOn(Date, 'now').mockReturnValue(1_800_000_010_000)
    const puts = () => calls.filter((c) => c.startsWith('put')).length
    await store.put('a', entry('1'))
    now.mockReturnValue(1_800_000_009_999)
    await store.put('a', entry('2'))
    expect(puts()).toBe(2)
    now.mockReturnValue(1_800_000_010_998)
    await store.put('a', entry('3'))
    expect(puts()).toBe(2)
    now.mockReturnValue(1_800_000_010_999)
    await store.put('a', entry('4'))
    expect(puts()).toBe(3)
    expect(text(await store.get('a'))).toBe('4')
  })

  it('a write still in flight holds back no other write of its key', async () => {
    const { namespace, calls } = fakeKv()
    let land!: () => void
    const slow: KvNamespaceLike = { ...namespace, put: (...args) => new Promise<void>((r) => (land = r)).then(() => namespace.put(...args)) }
    const store = kvStore(slow, { prefix: 'w:' })
    const first = store.put('a', entry('1'))
    await vi.waitFor(() => expect(land).toBeDefined())
    const release = land
    const second = store.put('a', entry('2'))
    await vi.waitFor(() => expect(land).not.toBe(release))
    release()
    land()
    await Promise.all([first, second])
    expect(calls.filter((c) => c.startsWith('put'))).toEqual(['put w:a', 'put w:a'])
  })

  it('the write interval is remembered for the last 1000 keys written: the 1001st back is written again at once', async () => {
    const { namespace, calls } = fakeKv()
    vi.spyOn(Date, 'now').mockReturnValue(1_800_000_020_000)
    const store = kvStore(namespace, { prefix: freshPrefix() })
    for (let i = 0; i <= 1_000; i++) await store.put(`k${i}`, entry('x'))
    await store.put('k1', entry('again'))
    await store.put('k0', entry('again'))
    const puts = calls.filter((c) => c.startsWith('put'))
    expect(puts).toHaveLength(1_002)
    expect(puts.at(-1)).toMatch(/:k0$/)
  })

  it('writes with the expirationTtl given, and the entry as metadata', async () => {
    const seen: unknown[] = []
    const { namespace } = fakeKv()
    const spy: KvNamespaceLike = { ...namespace, put: async (key, value, options) => void seen.push(options) }
    await kvStore(spy, { prefix: freshPrefix(), expirationTtl: 120 }).put('a', entry('x'))
    expect(seen).toEqual([{ expirationTtl: 120, metadata: { v: 1, s: 200, at: 1_700_000_000_000, u: 'https://api.example.com/x', t: 'OK', h: [['content-type', 'text/plain']] } }])
  })

  it('a refusal that says 429 or Too Many Requests counts as done; 4290 and other errors reject, and so do non-Error rejections', async () => {
    const { namespace } = fakeKv()
    let reason: unknown
    const refusing: KvNamespaceLike = { ...namespace, put: async () => Promise.reject(reason) }
    const put = () => kvStore(refusing, { prefix: freshPrefix() }).put('a', entry('x'))
    for (reason of [new Error('KV PUT failed: 429'), new Error('too many requests'), 'status 429', new Error('429: slow down')]) await expect(put()).resolves.toBeUndefined()
    for (reason of [new Error('KV PUT failed: 4290 units'), new Error('a429'), new Error('500 Internal'), 'status 503']) await expect(put()).rejects.toBe(reason)
  })

  it('a body of exactly maxBodyBytes is stored, one byte more is not', async () => {
    const { namespace, data } = fakeKv()
    const store = kvStore(namespace, { prefix: 'b:', maxBodyBytes: 3 })
    await store.put('fits', entry('123'))
    await store.put('over', entry('1234'))
    expect([...data.keys()]).toEqual(['b:fits'])
  })

  it("an entry over KV's 25 MiB value limit once its head is in front rejects naming the key and sizes, and writes nothing", async () => {
    const { namespace, data } = fakeKv()
    const store = kvStore(namespace, { prefix: 'b:', maxBodyBytes: 25 * 1024 * 1024 })
    const body = new ArrayBuffer(25 * 1024 * 1024)
    const headers: [string, string][] = [['x-pad', 'p'.repeat(2_000)]]
    await expect(store.put('big', entry('', { body, headers }))).rejects.toThrow(/^kvStore: the entry for big is 2621\d{4} bytes, over KV's 26214400$/)
    expect(data.size).toBe(0)
    // A body of exactly the limit with its metadata inline fits.
    await store.put('edge', entry('', { body, headers: [] }))
    expect(data.get('b:edge')!.value.byteLength).toBe(25 * 1024 * 1024)
  })
})

describe('kvStore delete and clear', () => {
  it('delete() removes the entry and forgets its last write: the next write lands within the second', async () => {
    const { namespace, calls, data } = fakeKv()
    vi.spyOn(Date, 'now').mockReturnValue(1_800_000_030_000)
    const store = kvStore(namespace, { prefix: 'x:' })
    await store.put('a', entry('1'))
    await store.delete('a')
    expect(data.has('x:a')).toBe(false)
    await store.put('a', entry('2'))
    expect(calls.filter((c) => c.startsWith('put'))).toEqual(['put x:a', 'put x:a'])
  })

  it('clear() follows list() cursors to the last page, deleting every key of its prefix and none of another', async () => {
    const { namespace, data, calls } = fakeKv(2)
    // Written by other isolates: only list() finds them.
    for (const k of ['c:a', 'c:b', 'c:c', 'c:d', 'c:e', 'd:a']) await namespace.put(k, encoder.encode(k))
    await kvStore(namespace, { prefix: 'c:' }).clear()
    expect([...data.keys()]).toEqual(['d:a'])
    expect(calls.filter((c) => c.startsWith('list'))).toEqual(['list {"prefix":"c:"}', 'list {"prefix":"c:","cursor":"c:b"}', 'list {"prefix":"c:","cursor":"c:d"}'])
  })

  it('clear() deletes the keys written lately that list() does not show yet, under its prefix only, each once', async () => {
    const { namespace, data, hidden, calls } = fakeKv()
    await kvStore(namespace, { prefix: 'c:' }).put('a', entry('a'))
    await kvStore(namespace, { prefix: 'c:' }).put('listed', entry('listed'))
    await kvStore(namespace, { prefix: 'e:' }).put('a', entry('other'))
    hidden.add('c:a').add('e:a')
    await kvStore(namespace, { prefix: 'c:' }).clear()
    hidden.clear()
    expect([...data.keys()]).toEqual(['e:a'])
    expect(calls.filter((c) => c.startsWith('delete')).sort()).toEqual(['delete c:a', 'delete c:listed'])
  })

  it('after clear(), the keys it deleted are written again at once, and a second clear() deletes only what list() shows', async () => {
    const { namespace, calls } = fakeKv()
    vi.spyOn(Date, 'now').mockReturnValue(1_800_000_040_000)
    const store = kvStore(namespace, { prefix: 'c:' })
    await store.put('a', entry('1'))
    await store.clear()
    await store.clear()
    await store.put('a', entry('2'))
    expect(calls.filter((c) => !c.startsWith('list'))).toEqual(['put c:a', 'delete c:a', 'put c:a'])
  })
})

describe('kvStore without a binding', () => {
  for (const binding of [undefined, null])
    it(`a binding that is ${binding} keeps copies in memory; only the first call rejects, saying why`, async () => {
      const store = kvStore(binding as never)
      await expect(store.put('a', entry('lost'))).rejects.toThrow(`kvStore: the KV namespace binding is ${binding} (is it under [[kv_namespaces]] in wrangler.toml?), keeping fallback copies in memory`)
      await store.put('a', entry('kept'))
      expect(text(await store.get('a'))).toBe('kept')
      await store.delete('a')
      expect(await store.get('a')).toBeUndefined()
      await store.put('b', entry('b'))
      await store.clear()
      expect(await store.get('b')).toBeUndefined()
    })

  it('each of its methods can be the first, and rejects', async () => {
    for (const call of [(s: ReturnType<typeof kvStore>) => s.get('a'), (s: ReturnType<typeof kvStore>) => s.delete('a'), (s: ReturnType<typeof kvStore>) => s.clear()]) {
      const store = kvStore(undefined)
      await expect(call(store)).rejects.toThrow('kvStore: the KV namespace binding is undefined')
      await expect(call(store)).resolves.toBeUndefined()
    }
  })

  it('a first put that rejects to say why still keeps its copy in memory', async () => {
    const store = kvStore(undefined)
    await expect(store.put('a', entry('first'))).rejects.toThrow('kvStore: the KV namespace binding is undefined')
    expect(text(await store.get('a'))).toBe('first')
  })

  it('its options are still checked, naming the option', () => {
    expect(() => kvStore(undefined, { expirationTtl: 59 })).toThrow("kvStore options.expirationTtl must be at least 60 (seconds, KV's minimum), got 59")
    expect(() => kvStore(null as never, { prefix: '' })).toThrow('kvStore options.prefix must be a non-empty string')
  })
})

describe('kvStore options', () => {
  it('a binding of the wrong kind throws, naming the argument and what is missing', () => {
    expect(() => kvStore({} as never)).toThrow(new TypeError('kvStore(namespace): namespace must be a Workers KV namespace binding (missing getWithMetadata()), got {}'))
    const { namespace } = fakeKv()
    expect(() => kvStore({ ...namespace, list: undefined } as never)).toThrow('kvStore(namespace): namespace must be a Workers KV namespace binding (missing list())')
  })

  it("a body limit over KV's 25 MiB is refused, naming the option; a prefix of the wrong kind is a TypeError", () => {
    const { namespace } = fakeKv()
    expect(() => kvStore(namespace, { maxBodyBytes: 25 * 1024 * 1024 + 1 })).toThrow(new RangeError("kvStore options.maxBodyBytes must be at most 26214400 (KV's value limit), got 26214401"))
    expect(() => kvStore(namespace, { prefix: 'é'.repeat(129) })).toThrow(TypeError)
  })

  it('takes the bounds themselves: a prefix of 256 bytes, a TTL of 60 s, a body limit of 25 MiB', async () => {
    const { namespace, data } = fakeKv()
    const prefix = 'é'.repeat(128)
    await kvStore(namespace, { prefix, expirationTtl: 60, maxBodyBytes: 25 * 1024 * 1024 }).put('a', entry('x'))
    expect([...data.keys()]).toEqual([`${prefix}a`])
    expect(() => kvStore(namespace, { prefix: `${prefix}x` })).toThrow(`kvStore options.prefix must be a non-empty string of at most 256 bytes, got "${prefix}x"`)
    expect(() => kvStore(namespace, { prefix: 7 as never })).toThrow('kvStore options.prefix must be a non-empty string of at most 256 bytes, got 7')
    expect(() => kvStore(namespace, { maxBodyBytes: 0 })).toThrow('kvStore options.maxBodyBytes must be a positive integer, got 0')
  })

  it("writes under 'resilient-fetch:' for a day by default, and keeps bodies up to 5 MiB", async () => {
    const { namespace, data } = fakeKv()
    const seen: unknown[] = []
    const spy: KvNamespaceLike = { ...namespace, put: async (key, value, options) => (seen.push(options), namespace.put(key, value, options)) }
    const store = kvStore(spy)
    await store.put('a', entry('', { body: new ArrayBuffer(5 * 1024 * 1024) }))
    await store.put('b', entry('', { body: new ArrayBuffer(5 * 1024 * 1024 + 1) }))
    expect([...data.keys()]).toEqual(['resilient-fetch:a'])
    expect(seen).toEqual([expect.objectContaining({ expirationTtl: 86_400 })])
  })
})
