// @vitest-environment happy-dom
import 'fake-indexeddb/auto'
import { createStore, get as rawGet } from 'idb-keyval'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { resolveStore } from '../../src/store/auto.js'
import { memoryStore } from '../../src/store/memory.js'
import { fakeCaches } from './fake-caches.js'
import { entry, text } from './helpers.js'

afterEach(() => {
  vi.unstubAllGlobals()
})

describe('resolveStore', () => {
  it('returns a given store as it is', () => {
    const custom = memoryStore()
    expect(resolveStore(custom)).toBe(custom)
  })

  it("'memory' is a working memory store", async () => {
    const store = resolveStore('memory')
    await store.put('k', entry('m'))
    expect(text((await store.get('k'))!.body)).toBe('m')
  })

  it("'auto' touches no storage until first used, then prefers the Cache API", async () => {
    const fake = fakeCaches()
    const open = vi.spyOn(fake.caches, 'open')
    vi.stubGlobal('caches', fake.caches)
    const store = resolveStore('auto')
    expect(open).not.toHaveBeenCalled()
    await store.put('k', entry('c'))
    expect(open).toHaveBeenCalledWith('resilient-fetch')
    expect(fake.entries('resilient-fetch').size).toBe(1)
    expect(text((await store.get('k'))!.body)).toBe('c')
  })

  it("'auto' uses IndexedDB where the Cache API is there but refuses to open (Firefox private mode)", async () => {
    vi.stubGlobal('caches', { open: () => Promise.reject(new DOMException('insecure', 'SecurityError')) })
    const store = resolveStore('auto')
    await store.put('refused', entry('i'))
    const onDisk = await rawGet('refused', createStore('resilient-fetch', 'responses'))
    expect(text(onDisk.body)).toBe('i')
  })

  it("'auto' uses IndexedDB where caches.open never settles, after 2 s", async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] })
    try {
      vi.stubGlobal('caches', { open: () => new Promise(() => {}) })
      const store = resolveStore('auto')
      const put = store.put('hung', entry('i'))
      const settled = vi.fn()
      put.then(settled, settled)
      await vi.advanceTimersByTimeAsync(1_999)
      expect(settled).not.toHaveBeenCalled()
      await vi.advanceTimersByTimeAsync(1)
      await put
      const onDisk = await rawGet('hung', createStore('resilient-fetch', 'responses'))
      expect(text(onDisk.body)).toBe('i')
    } finally {
      vi.useRealTimers()
    }
  })

  it("'auto' uses IndexedDB where there is no Cache API", async () => {
    expect(globalThis.caches).toBeUndefined()
    const store = resolveStore('auto')
    await store.put('k', entry('i'))
    const onDisk = await rawGet('k', createStore('resilient-fetch', 'responses'))
    expect(text(onDisk.body)).toBe('i')
  })

  it("'auto' uses memory where there is neither", async () => {
    vi.stubGlobal('indexedDB', undefined)
    const store = resolveStore('auto')
    await store.put('k', entry('m'))
    expect(text((await store.get('k'))!.body)).toBe('m')
    await store.clear()
    expect(await store.get('k')).toBeUndefined()
  })
})

describe("the store's chunk loads when the store is made, not at its first use (a recall, when the network may be down)", () => {
  afterEach(() => {
    vi.doUnmock('../../src/store/cache-api.js')
    vi.doUnmock('../../src/store/indexeddb.js')
    vi.resetModules()
  })

  /** resolveStore from a fresh module graph, with the Cache API and IndexedDB chunks counted as they load. */
  async function counting(fail = false) {
    vi.resetModules()
    const loads = { cacheApi: 0, indexedDb: 0 }
    for (const [path, name] of [['../../src/store/cache-api.js', 'cacheApi'], ['../../src/store/indexeddb.js', 'indexedDb']] as const) {
      vi.doMock(path, async (importOriginal) => {
        loads[name]++
        if (fail && loads[name] === 1) throw new TypeError('Failed to fetch dynamically imported module')
        return importOriginal()
      })
    }
    const { resolveStore } = await import('../../src/store/auto.js')
    return { resolveStore, loads }
  }

  it("'auto' with a Cache API: the Cache API chunk loads at once, before any storage is touched; IndexedDB's does not", async () => {
    const fake = fakeCaches()
    const open = vi.spyOn(fake.caches, 'open')
    vi.stubGlobal('caches', fake.caches)
    const { resolveStore, loads } = await counting()
    const store = resolveStore('auto')
    await vi.waitFor(() => expect(loads.cacheApi).toBe(1))
    expect(open).not.toHaveBeenCalled()
    expect(loads.indexedDb).toBe(0)
    await store.put('k', entry('c'))
    expect(loads).toEqual({ cacheApi: 1, indexedDb: 0 })
    expect(fake.entries('resilient-fetch').size).toBe(1)
  })

  it("'auto' without a Cache API: the IndexedDB chunk loads at once", async () => {
    vi.stubGlobal('caches', undefined)
    const { resolveStore, loads } = await counting()
    resolveStore('auto')
    await vi.waitFor(() => expect(loads.indexedDb).toBe(1))
    expect(loads.cacheApi).toBe(0)
  })

  it("'auto' where reading indexedDB throws (Firefox: a third-party iframe with cookies blocked) still makes a working store", async () => {
    vi.stubGlobal('caches', undefined)
    const descriptor = Object.getOwnPropertyDescriptor(globalThis, 'indexedDB')
    Object.defineProperty(globalThis, 'indexedDB', {
      configurable: true,
      get() {
        throw new DOMException('The operation is insecure.', 'SecurityError')
      },
    })
    try {
      const { resolveStore, loads } = await counting()
      const store = resolveStore('auto')
      await store.put('k', entry('m'))
      expect(text((await store.get('k'))!.body)).toBe('m')
      expect(loads).toEqual({ cacheApi: 0, indexedDb: 0 })
    } finally {
      if (descriptor) Object.defineProperty(globalThis, 'indexedDB', descriptor)
    }
  })

  it('a chunk that failed to load when the store was made is loaded again at first use', async () => {
    const fake = fakeCaches()
    vi.stubGlobal('caches', fake.caches)
    const { resolveStore, loads } = await counting(true)
    const store = resolveStore('auto')
    await vi.waitFor(() => expect(loads.cacheApi).toBe(1))
    await store.put('k', entry('c'))
    expect(loads.cacheApi).toBe(2)
    expect(fake.entries('resilient-fetch').size).toBe(1)
  })
})
