/**
 * A write (PUT, PATCH, DELETE, POST) answered 2xx or 3xx changes its URL: its stored copy is dropped (RFC 9111 4.4), so a
 * failure after it is never answered with the state from before the write (a deleted item back, an edit undone).
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { createResilientFetch, memoryStore, type FallbackStore, type ResilientFetchOptions } from '../src/index.js'
import { createFallback, slowResponse } from './fallback-helper.js'
import { flush } from './helpers.js'

const ITEM = 'https://a.test/items/5'
const OTHER = 'https://b.test/items/5'

beforeEach(() => {
  vi.useFakeTimers({ now: 1_000_000 })
})
afterEach(() => {
  vi.useRealTimers()
})

/** An API whose GETs answer the item's current version (or 503 when down), and whose writes answer `write`. */
function api() {
  const state = { version: 1, down: false, write: [204, {}] as [number, HeadersInit] | Error }
  const fetch = vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
    const method = (init?.method ?? 'GET').toUpperCase()
    if (method === 'GET' || method === 'HEAD' || method === 'OPTIONS') {
      if (state.down) return new Response('down', { status: 503 })
      return new Response(JSON.stringify({ url: String(input), version: state.version }), { headers: { 'content-type': 'application/json' } })
    }
    if (state.write instanceof Error) throw state.write
    state.version++
    const [status, headers] = state.write
    return new Response(status === 204 || status === 304 ? null : 'done', { status, headers })
  })
  return { state, fetch: fetch as unknown as typeof globalThis.fetch }
}

/** A memory store whose puts and deletes the test can see. */
function watched(store: FallbackStore = memoryStore()) {
  const puts: string[] = []
  const deletes: string[] = []
  const watchedStore: FallbackStore = {
    get: (k) => store.get(k),
    put: async (k, e) => {
      puts.push(k)
      await store.put(k, e)
    },
    delete: async (k) => {
      deletes.push(k)
      await store.delete(k)
    },
    clear: () => store.clear(),
  }
  return { store: watchedStore, puts, deletes }
}

function setup(options: ResilientFetchOptions = {}, inner?: FallbackStore) {
  const upstream = api()
  const { store, puts, deletes } = watched(inner)
  const rf = createResilientFetch({ fetch: upstream.fetch, retry: false, timeout: false, breaker: { failureThreshold: 100 }, ...options, fallback: { store } })
  const storeErrors: unknown[] = []
  rf.addEventListener('storeerror', (e) => storeErrors.push(e.detail.error))
  /** GETs `url` and waits until its copy is stored. */
  async function prime(url: string) {
    const before = puts.length
    await (await rf(url)).text()
    await vi.waitFor(() => expect(puts.length).toBe(before + 1))
  }
  /** The answer to a GET while the API is down: the copy's version, or null when the failure itself came back. */
  async function served(url: string): Promise<number | null> {
    upstream.state.down = true
    try {
      const response = await rf(url)
      if (response.headers.get('x-resilient-source') !== 'fallback') {
        expect(response.status).toBe(503)
        return null
      }
      return ((await response.json()) as { version: number }).version
    } finally {
      upstream.state.down = false
    }
  }
  return { rf, upstream, store, puts, deletes, storeErrors, prime, served }
}

describe('a write answered 2xx or 3xx drops its URL’s copy', () => {
  it.each([
    ['PUT', 200],
    ['PUT', 204],
    ['PATCH', 200],
    ['DELETE', 204],
    ['DELETE', 202],
    ['POST', 201],
    ['PUT', 303],
    ['DELETE', 302],
    ['PATCH', 304],
  ])('%s answered %i: a failure after it gets the failure, not the copy from before', async (method, status) => {
    const t = setup()
    await t.prime(ITEM)
    expect(await t.served(ITEM)).toBe(1)
    t.upstream.state.write = [status, {}]
    const response = await t.rf(ITEM, { method })
    expect(response.status).toBe(status)
    expect(await t.served(ITEM)).toBeNull()
    await vi.waitFor(async () => expect(await t.store.get(`GET ${ITEM}`)).toBeUndefined())
    expect(t.storeErrors).toEqual([])
  })

  it('drops the copy of the URL without its fragment, and a write with fallback: false drops it too (the write happened)', async () => {
    const t = setup()
    await t.prime(ITEM)
    await t.rf(`${ITEM}#details`, { method: 'DELETE', resilience: { fallback: false } })
    expect(await t.served(ITEM)).toBeNull()
    expect(t.deletes).toContain(`GET ${ITEM}`)
  })

  it('a good response after the write is copied at once and served: the URL is not left without copies', async () => {
    const t = setup()
    await t.prime(ITEM)
    await t.rf(ITEM, { method: 'PUT', body: '{}' })
    vi.advanceTimersByTime(1)
    // Within the second the last copy was taken: the write freed the URL for the next copy.
    await t.prime(ITEM)
    expect(await t.served(ITEM)).toBe(2)
  })
})

describe('what is kept', () => {
  it.each([[400], [404], [409], [500], [503]])('a write answered %i keeps the copy; a 2xx after it drops it', async (status) => {
    const t = setup()
    await t.prime(ITEM)
    t.upstream.state.write = [status, {}]
    await t.rf(ITEM, { method: 'PUT', body: '{}' })
    await flush(20)
    expect(await t.served(ITEM)).toBe(1)
    t.upstream.state.write = [204, {}]
    await t.rf(ITEM, { method: 'PUT', body: '{}' })
    expect(await t.served(ITEM)).toBeNull()
  })

  it('a write that ends in a network error keeps the copy; a 2xx after it drops it', async () => {
    const t = setup()
    await t.prime(ITEM)
    t.upstream.state.write = new TypeError('fetch failed')
    await expect(t.rf(ITEM, { method: 'DELETE' })).rejects.toThrow('fetch failed')
    await flush(20)
    expect(await t.served(ITEM)).toBe(1)
    t.upstream.state.write = [204, {}]
    await t.rf(ITEM, { method: 'DELETE' })
    expect(await t.served(ITEM)).toBeNull()
  })

  it('safe methods (HEAD, OPTIONS, a GET with fallback: false) drop nothing; a DELETE does', async () => {
    const t = setup()
    await t.prime(ITEM)
    await t.rf(ITEM, { method: 'HEAD' })
    await t.rf(ITEM, { method: 'OPTIONS' })
    await t.rf(ITEM, { resilience: { fallback: false } })
    await flush(20)
    expect(t.deletes).toEqual([])
    expect(await t.served(ITEM)).toBe(1)
    await t.rf(ITEM, { method: 'DELETE' })
    expect(await t.served(ITEM)).toBeNull()
  })
})

describe('Location and Content-Location', () => {
  it('a POST answered 201 drops the copies of its URL and of its same-origin Location and Content-Location (relative or absolute)', async () => {
    const t = setup()
    const list = 'https://a.test/items'
    const created = 'https://a.test/items/6'
    await t.prime(list)
    await t.prime(ITEM)
    await t.prime(created)
    t.upstream.state.write = [201, { location: '/items/5#top', 'content-location': 'https://a.test/items/6' }]
    await t.rf(list, { method: 'POST', body: '{}' })
    expect(await t.served(list)).toBeNull()
    expect(await t.served(ITEM)).toBeNull()
    expect(await t.served(created)).toBeNull()
  })

  it('a Location or Content-Location on another origin is left alone; the target’s copy is dropped', async () => {
    const t = setup()
    await t.prime(ITEM)
    await t.prime(OTHER)
    await t.prime('https://a.test:8443/items/5')
    t.upstream.state.write = [303, { location: OTHER, 'content-location': 'https://a.test:8443/items/5' }]
    await t.rf(ITEM, { method: 'PUT', body: '{}' })
    expect(await t.served(ITEM)).toBeNull()
    expect(await t.served(OTHER)).toBe(1)
    expect(await t.served('https://a.test:8443/items/5')).toBe(1)
    expect(t.deletes).toEqual([`GET ${ITEM}`])
  })

  it('a Location that is no URL is skipped: the target’s copy is still dropped, and nothing is reported', async () => {
    const t = setup()
    await t.prime(ITEM)
    t.upstream.state.write = [201, { location: 'http://[bad' }]
    await t.rf(ITEM, { method: 'POST' })
    expect(await t.served(ITEM)).toBeNull()
    expect(t.storeErrors).toEqual([])
  })
})

describe('off the hot path, never failing the call', () => {
  it('a delete that never settles does not delay the write, goes to waitUntil, and is reported after 10 s', async () => {
    const inner = memoryStore()
    inner.delete = () => new Promise<void>(() => {})
    const t = setup({}, inner)
    await t.prime(ITEM)
    const background: Promise<unknown>[] = []
    const response = await t.rf(ITEM, { method: 'DELETE', resilience: { waitUntil: (p) => background.push(p) } })
    expect(response.status).toBe(204)
    expect(background.length).toBeGreaterThan(0)
    // The copy is not served though its delete hangs.
    expect(await t.served(ITEM)).toBeNull()
    await vi.advanceTimersByTimeAsync(10_000)
    await Promise.all(background)
    expect(String(t.storeErrors[0])).toContain(`store.delete("GET ${ITEM}") did not finish within 10000 ms`)
  })

  it('a delete that fails is a storeerror, the write still answers, and the copy is never served', async () => {
    const inner = memoryStore()
    inner.delete = async () => {
      throw new Error('disk gone')
    }
    const t = setup({}, inner)
    await t.prime(ITEM)
    const response = await t.rf(ITEM, { method: 'PATCH', body: '{}' })
    expect(response.status).toBe(204)
    await vi.waitFor(() => expect(t.storeErrors.map(String)).toEqual(['Error: disk gone']))
    // Still in the store, but from before the write.
    expect(await inner.get(`GET ${ITEM}`)).toBeDefined()
    expect(await t.served(ITEM)).toBeNull()
  })
})

describe('a copy in flight when the write lands', () => {
  it('a copy whose body is still being read when the write lands is never stored nor served', async () => {
    const t = setup()
    const { response, end } = slowResponse()
    let slow = true
    const fetch = async (input: RequestInfo | URL, init?: RequestInit) => {
      if (!slow) return t.upstream.fetch(input, init)
      slow = false
      return response
    }
    const rf = createResilientFetch({ fetch, retry: false, timeout: false, fallback: { store: t.store } })
    const first = await rf(ITEM)
    await rf(ITEM, { method: 'DELETE' })
    end()
    expect(await first.json()).toEqual({ user: 'old' })
    await flush(50)
    expect(t.puts).toEqual([])
    t.upstream.state.down = true
    const failed = await rf(ITEM)
    expect(failed.status).toBe(503)
    expect(failed.headers.get('x-resilient-source')).toBeNull()
  })

  it('a copy whose put is in flight when the write lands is deleted when it lands and never served', async () => {
    const inner = memoryStore()
    const put = inner.put.bind(inner)
    let release = () => {}
    const landed = vi.fn()
    inner.put = async (key, entry) => {
      await new Promise<void>((resolve) => (release = resolve))
      await put(key, entry)
      landed()
    }
    const t = setup({}, inner)
    await (await t.rf(ITEM)).text()
    await vi.waitFor(() => expect(t.puts).toEqual([`GET ${ITEM}`]))
    await t.rf(ITEM, { method: 'DELETE' })
    // Failing while the old copy's write is still in flight: no copy.
    expect(await t.served(ITEM)).toBeNull()
    release()
    await vi.waitFor(() => expect(landed).toHaveBeenCalled())
    await vi.waitFor(async () => expect(await inner.get(`GET ${ITEM}`)).toBeUndefined())
    expect(await t.served(ITEM)).toBeNull()
  })

  it('a copy from before the write that lands anyway (its delete failed) is never served by this instance', async () => {
    const inner = memoryStore()
    const put = inner.put.bind(inner)
    let release = () => {}
    inner.put = async (key, entry) => {
      await new Promise<void>((resolve) => (release = resolve))
      await put(key, entry)
    }
    inner.delete = async () => {
      throw new Error('disk gone')
    }
    const t = setup({}, inner)
    await (await t.rf(ITEM)).text()
    await vi.waitFor(() => expect(t.puts).toEqual([`GET ${ITEM}`]))
    await t.rf(ITEM, { method: 'PUT', body: '{}' })
    release()
    await vi.waitFor(async () => expect(await inner.get(`GET ${ITEM}`)).toBeDefined())
    expect(await t.served(ITEM)).toBeNull()
  })

  it('the Fallback alone: a copy remembered before changed() never lands; one remembered after it does', async () => {
    let time = 1_000_000
    const store = memoryStore()
    const fallback = createFallback({ store, maxAge: 86_400_000, maxBodyBytes: 5 * 1024 * 1024, private: false }, () => {}, () => time)
    const request = { url: ITEM, headers: new Headers() }
    const { response, end } = slowResponse()
    const work: Promise<unknown>[] = []
    fallback.remember(request, response, (p) => work.push(p))
    fallback.changed(request, { kind: 'response', response: new Response(null, { status: 204 }), failure: false, duration: 0 }, (p) => work.push(p))
    end()
    await Promise.all(work)
    expect(await store.get(`GET ${ITEM}`)).toBeUndefined()
    expect(await fallback.recall(request)).toBeUndefined()
    time += 1
    fallback.remember(request, new Response('{"user":"new"}'), (p) => work.push(p))
    await Promise.all(work)
    expect(await (await fallback.recall(request))!.response.json()).toEqual({ user: 'new' })
  })
})
