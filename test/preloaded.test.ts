/**
 * The table of chunks an entry loaded up front (src/preloaded.ts), as a Service Worker needs it: every import() the
 * library makes is refused here (each chunk's module is mocked to throw, as a Service Worker's import() rejects), and a
 * chunk in the table is used instead. Each test would fail were the table ignored: the import() it makes is refused.
 * The `resilient-fetch/service-worker` entry (src/service-worker.ts) fills the table with the very modules.
 */
import 'fake-indexeddb/auto'
import { createStore, keys as rawKeys } from 'idb-keyval'
import { afterEach, describe, expect, it, vi } from 'vitest'
import type { Preloaded } from '../src/preloaded.js'
import type { ResilientFetchOptions, SharedBreakerState } from '../src/types.js'
import { fakeCaches } from './store/fake-caches.js'
import { entry, text } from './store/helpers.js'

const CHUNKS = {
  fallback: '../src/fallback.js',
  hedge: '../src/stages/hedge.js',
  throttle: '../src/stages/throttle.js',
  coalesce: '../src/stages/coalesce.js',
  lru: '../src/store/lru.js',
  cacheApi: '../src/store/cache-api.js',
  indexedDb: '../src/store/indexeddb.js',
} as const satisfies Record<keyof Preloaded, string>
type Chunk = keyof typeof CHUNKS
/** A share's side of the breaker stage: not in the table (the Service Worker entry installs it), loaded by an instance on a share of its own. */
const SHARED = '../src/breaker/shared.js'

/** What a Service Worker's import() rejects with (Chromium). */
const REFUSED = 'import() is disallowed on ServiceWorkerGlobalScope by the HTML specification'
const FIX = "Service Workers refuse import(): use 'resilient-fetch/service-worker'"

afterEach(() => {
  for (const path of [...Object.values(CHUNKS), SHARED]) vi.doUnmock(path)
  vi.resetModules()
  vi.unstubAllGlobals()
  vi.restoreAllMocks()
})

/**
 * A fresh module graph where every chunk's import() is refused, with `preload`'s chunks (the real modules) in the table;
 * `before` is imported before the refusal starts (an entry that imports a chunk statically).
 */
async function refusing(preload: Chunk[], before?: () => Promise<unknown>) {
  vi.resetModules()
  const modules = await Promise.all(preload.map(async (name) => [name, await vi.importActual(CHUNKS[name])] as const))
  await before?.()
  for (const path of Object.values(CHUNKS)) {
    vi.doMock(path, () => {
      throw new TypeError(REFUSED)
    })
  }
  const { preloaded } = await import('../src/preloaded.js')
  Object.assign(preloaded, Object.fromEntries(modules))
  return import('../src/index.js')
}

/** An instance of the fresh graph on `fetch`'s answers; the storeerrors and warnings it gives. */
async function instance(preload: Chunk[], fetch: () => Promise<Response>, options: ResilientFetchOptions = {}) {
  const warn = vi.spyOn(console, 'warn').mockImplementation(() => {})
  const { createResilientFetch } = await refusing(preload)
  const upstream = vi.fn(fetch)
  const rf = createResilientFetch({ fetch: upstream, retry: false, breaker: false, ...options })
  const storeErrors: unknown[] = []
  rf.addEventListener('storeerror', (event) => storeErrors.push(event.detail.error))
  return { rf, upstream, storeErrors, warn }
}

/** An error's message and its causes' (a refused import() comes wrapped by vitest's mocker). */
function messages(error: unknown): string {
  return error instanceof Error ? `${error.message} <- ${messages(error.cause)}` : String(error)
}

/** An upstream that answers 200 `body` once, then 503. */
function upOnce(body: string): () => Promise<Response> {
  let calls = 0
  return async () => (calls++ === 0 ? new Response(body) : new Response('down', { status: 503 }))
}

/** A 200 stored, then the upstream fails: resolves with the answer to the failed call. */
async function storedThenFailed(rf: (url: string) => Promise<Response>, url = 'https://api.test/items'): Promise<Response> {
  await (await rf(url)).text()
  // The copy is remembered off the hot path: a recall waits for it.
  return rf(url)
}

describe('the resilient-fetch/service-worker entry', () => {
  it("exports the main entry's names, each the same value", async () => {
    const main = await import('../src/index.js')
    const sw = await import('../src/service-worker.js')
    expect(Object.keys(sw).sort()).toEqual(Object.keys(main).sort())
    for (const name of Object.keys(main)) expect(sw[name as keyof typeof sw], name).toBe(main[name as keyof typeof main])
  })

  it('fills the table with every chunk, the very modules the import()s would load', async () => {
    vi.resetModules()
    await import('../src/service-worker.js')
    const { preloaded } = await import('../src/preloaded.js')
    expect(Object.keys(preloaded).sort()).toEqual(Object.keys(CHUNKS).sort())
    for (const [name, path] of Object.entries(CHUNKS)) expect(preloaded[name as Chunk], name).toBe(await import(path))
  })

  it("installs the share's side of the breaker stage: an instance on a share of its own shares from its creation", async () => {
    vi.resetModules()
    const { createResilientFetch } = await import('../src/service-worker.js')
    const open = (): SharedBreakerState => ({ state: 'open', at: Date.now(), openedAt: Date.now(), openUntil: Date.now() + 60_000 })
    const share = { connect: vi.fn(), initial: vi.fn(open), record: vi.fn(), acquireProbe: vi.fn(async () => false) }
    const upstream = vi.fn(async () => new Response('ok'))
    const rf = createResilientFetch({ fetch: upstream, retry: false, fallback: false, share })
    // At once, not once a chunk has loaded (a Service Worker's import() of it is refused).
    expect(share.connect).toHaveBeenCalledTimes(1)
    await expect(rf('https://api.test/x')).rejects.toMatchObject({ name: 'CircuitOpenError' })
    expect(upstream).not.toHaveBeenCalled()
  })
})

describe('every import() refused, the table filled', () => {
  it("the fallback on the 'memory' store stores a copy and serves it (the fallback's chunk, the LRU's)", async () => {
    const { rf, storeErrors } = await instance(['fallback', 'lru'], upOnce('v1'), { fallback: { store: 'memory' } })
    const answer = await storedThenFailed(rf)
    expect(answer.headers.get('x-resilient-source')).toBe('fallback')
    expect(await answer.text()).toBe('v1')
    expect(storeErrors).toEqual([])
  })

  it("the 'auto' store is the Cache API where there is one (its chunk)", async () => {
    const fake = fakeCaches()
    vi.stubGlobal('caches', fake.caches)
    const { rf, storeErrors } = await instance(['fallback', 'cacheApi'], upOnce('c1'))
    const answer = await storedThenFailed(rf)
    expect(await answer.text()).toBe('c1')
    await vi.waitFor(() => expect(fake.entries('resilient-fetch').size).toBe(1))
    expect(storeErrors).toEqual([])
  })

  it("the 'auto' store is IndexedDB where there is no Cache API (its chunk)", async () => {
    vi.stubGlobal('caches', undefined)
    const { rf, storeErrors } = await instance(['fallback', 'indexedDb'], upOnce('i1'))
    const answer = await storedThenFailed(rf, 'https://api.test/idb')
    expect(await answer.text()).toBe('i1')
    await vi.waitFor(async () => expect(await rawKeys(createStore('resilient-fetch', 'responses'))).toContain('GET https://api.test/idb'))
    expect(storeErrors).toEqual([])
  })

  it("the 'auto' store is memory where there is neither (the LRU's chunk)", async () => {
    vi.stubGlobal('caches', undefined)
    vi.stubGlobal('indexedDB', undefined)
    const { rf, storeErrors } = await instance(['fallback', 'lru'], upOnce('m1'))
    expect(await (await storedThenFailed(rf)).text()).toBe('m1')
    expect(storeErrors).toEqual([])
  })

  it('memoryStore() keeps entries (the LRU chunk)', async () => {
    const { memoryStore } = await refusing(['lru'])
    const store = memoryStore()
    await store.put('k', entry('kept'))
    expect(text((await store.get('k'))!.body)).toBe('kept')
  })

  it('a Cache API store where there is none keeps its copies in memory after saying so (the LRU chunk)', async () => {
    vi.stubGlobal('caches', undefined)
    // The `resilient-fetch/cache` entry imports its store statically.
    await refusing(['lru'], () => import('../src/store/cache.js'))
    const { cacheStore } = await import('../src/store/cache.js')
    const store = cacheStore()
    await expect(store.put('k', entry('first'))).rejects.toThrow('unavailable, keeping fallback copies in memory')
    await store.put('k', entry('kept'))
    expect(text((await store.get('k'))!.body)).toBe('kept')
  })

  it('coalescing: two calls at once share one request, nothing said on the console', async () => {
    let release!: () => void
    const held = new Promise<void>((resolve) => (release = resolve))
    const { rf, upstream, warn } = await instance(['coalesce'], async () => (await held, new Response('one')), { coalesce: true, fallback: false })
    const both = [rf('https://api.test/same'), rf('https://api.test/same')]
    await vi.waitFor(() => expect(upstream).toHaveBeenCalled())
    release()
    expect(await Promise.all(both.map(async (call) => (await call).text()))).toEqual(['one', 'one'])
    expect(upstream).toHaveBeenCalledTimes(1)
    expect(warn).not.toHaveBeenCalled()
  })

  it('hedging: a second attempt answers one that hangs, nothing said on the console', async () => {
    let calls = 0
    const hangs = (signal: AbortSignal) => new Promise<Response>((_, reject) => signal.addEventListener('abort', () => reject(signal.reason)))
    const { rf, upstream, warn } = await instance(['hedge'], async () => new Response('never'), { hedge: { delay: 20 }, fallback: false })
    upstream.mockImplementation(((_: unknown, init?: RequestInit) => (calls++ === 0 ? hangs(init!.signal!) : Promise.resolve(new Response('hedge')))) as never)
    expect(await (await rf('https://api.test/slow')).text()).toBe('hedge')
    expect(upstream).toHaveBeenCalledTimes(2)
    expect(warn).not.toHaveBeenCalled()
  })

  it('throttling: after a failure, a call is shed locally, nothing said on the console', async () => {
    vi.spyOn(Math, 'random').mockReturnValue(0)
    const { rf, upstream, warn } = await instance(['throttle'], async () => new Response('down', { status: 503 }), { throttle: {}, fallback: false })
    expect((await rf('https://api.test/t')).status).toBe(503)
    await expect(rf('https://api.test/t')).rejects.toMatchObject({ name: 'ThrottledError' })
    expect(upstream).toHaveBeenCalledTimes(1)
    expect(warn).not.toHaveBeenCalled()
  })
})

describe('the main entry where import() is refused, nothing in the table', () => {
  it("in a Service Worker, the fallback's storeerror names the fix, the Service Worker entry (a TypeError, the refusal its cause)", async () => {
    vi.stubGlobal('ServiceWorkerGlobalScope', class {})
    const { rf, storeErrors } = await instance([], upOnce('v1'), { fallback: { store: 'memory' } })
    const answer = await storedThenFailed(rf)
    expect(answer.status).toBe(503)
    expect(storeErrors.length).toBeGreaterThanOrEqual(1)
    for (const error of storeErrors) {
      expect(error).toBeInstanceOf(TypeError)
      expect(error).toMatchObject({ message: FIX })
      expect(messages((error as Error).cause)).toContain(REFUSED)
    }
  })

  it("elsewhere (a chunk that failed to load in a page), the storeerror is the loader's own error", async () => {
    const { rf, storeErrors } = await instance([], upOnce('v1'), { fallback: { store: 'memory' } })
    expect((await storedThenFailed(rf)).status).toBe(503)
    expect(storeErrors.length).toBeGreaterThanOrEqual(1)
    for (const error of storeErrors) expect(messages(error)).toContain(REFUSED)
  })

  it.each(['hedge', 'throttle', 'coalesce'] as const)('%s is off and the console says so, once per instance, naming the fix in a Service Worker', async (name) => {
    vi.stubGlobal('ServiceWorkerGlobalScope', class {})
    const options = { hedge: { hedge: { delay: 20 } }, throttle: { throttle: {} }, coalesce: { coalesce: true } }[name]
    const { rf, upstream, warn } = await instance([], async () => new Response('ok'), { ...options, fallback: false })
    expect(await (await rf('https://api.test/a')).text()).toBe('ok')
    expect(await (await rf('https://api.test/a')).text()).toBe('ok')
    expect(upstream).toHaveBeenCalledTimes(2)
    expect(warn).toHaveBeenCalledTimes(1)
    expect(warn).toHaveBeenCalledWith(`resilient-fetch: ${name} is off:`, expect.objectContaining({ name: 'TypeError', message: FIX }))
  })

  it("a share of the user's own: its side of the breaker stage is off and the console says so, once, naming the fix in a Service Worker", async () => {
    vi.stubGlobal('ServiceWorkerGlobalScope', class {})
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {})
    vi.resetModules()
    vi.doMock(SHARED, () => {
      throw new TypeError(REFUSED)
    })
    const { createResilientFetch } = await import('../src/index.js')
    const share = { connect: vi.fn(), initial: vi.fn((): SharedBreakerState | undefined => undefined), publish: vi.fn() }
    const upstream = vi.fn(async () => new Response('ok'))
    const rf = createResilientFetch({ fetch: upstream, retry: false, fallback: false, share })
    expect(await (await rf('https://api.test/a')).text()).toBe('ok')
    await vi.waitFor(() => expect(warn).toHaveBeenCalledTimes(1))
    expect(warn).toHaveBeenCalledWith('resilient-fetch: share is off:', expect.objectContaining({ name: 'TypeError', message: FIX }))
    expect(messages((warn.mock.calls[0]![1] as Error).cause)).toContain(REFUSED)
    // The instance goes on without the share.
    expect(await (await rf('https://api.test/a')).text()).toBe('ok')
    expect(share.connect).not.toHaveBeenCalled()
    expect(warn).toHaveBeenCalledTimes(1)
  })
})
