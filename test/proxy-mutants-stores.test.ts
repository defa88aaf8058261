// Where the proxy keeps its copies and its breakers, in Node (mutation testing of src/worker/proxy.ts): the Cache API's
// cache name, the KV keys' prefix, and the fleet's breaker on a coordinator, with what it reports handed to waitUntil.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { createProxy } from '../src/worker/proxy.js'
import type { KvNamespaceLike } from '../src/store/kv.js'
import { memoryNamespace } from './coordinator-fakes.js'
import { installFakeCaches } from './store/fake-caches.js'

const A = 'http://a.test'

beforeEach(() => void vi.spyOn(console, 'log').mockImplementation(() => {}))
afterEach(() => {
  vi.useRealTimers()
  vi.restoreAllMocks()
  vi.unstubAllGlobals()
})

/** A Worker ExecutionContext whose background work the test waits for, counting what it was handed. */
function context() {
  const pending: Promise<unknown>[] = []
  let handed = 0
  return {
    waitUntil: (promise: Promise<unknown>) => void (handed++, pending.push(promise)),
    handed: () => handed,
    async settle() {
      while (pending.length > 0) await Promise.allSettled(pending.splice(0))
    },
  }
}

const req = (path = '/api/x') => new Request(`http://proxy.test${path}`)
const ok = (async () => new Response('fresh')) as typeof globalThis.fetch
const failing = (async () => new Response('down', { status: 500 })) as typeof globalThis.fetch

describe('where the copies live', () => {
  it("without a store: the Cache API, in the cache 'resilient-fetch-proxy'", async () => {
    const fake = installFakeCaches()
    const handler = createProxy({ upstream: A, fetch: ok })
    const ctx = context()
    await (await handler(req(), undefined, ctx)).text()
    await ctx.settle()
    expect(fake.entries('resilient-fetch-proxy').size).toBe(1)
  })

  it("with LAST_KNOWN_GOOD: Workers KV, each key starting 'resilient-fetch-proxy:'", async () => {
    const keys: string[] = []
    const kv = {
      getWithMetadata: async () => ({ value: null, metadata: null }),
      put: async (key: string) => void keys.push(key),
      delete: async () => {},
      list: async () => ({ keys: [], list_complete: true }),
    } as unknown as KvNamespaceLike
    const handler = createProxy({ upstream: A, fetch: ok, lastKnownGood: kv })
    const ctx = context()
    await (await handler(req(), undefined, ctx)).text()
    await ctx.settle()
    expect(keys.length).toBeGreaterThan(0)
    for (const key of keys) expect(key.startsWith('resilient-fetch-proxy:')).toBe(true)
  })
})

describe("the fleet's breaker (BREAKERS)", () => {
  it('each failure is reported to the origin\'s coordinator, with its threshold and minReporters, through waitUntil', async () => {
    const ns = memoryNamespace()
    const handler = createProxy({ upstream: A, store: 'memory', fetch: failing, coordinator: ns.namespace, failureThreshold: 2, minReporters: 1, openDuration: 60_000 })
    const ctx = context()
    await handler(req(), undefined, ctx)
    const handed = ctx.handed()
    await ctx.settle()
    expect(ns.calls()).toBeGreaterThan(0)
    expect(ns.objects.get(A)?.fleet?.state).not.toBe('open')
    await handler(req(), undefined, ctx)
    await ctx.settle()
    // The second failure opens the fleet's breaker: one isolate is enough with minReporters 1.
    expect(ns.objects.get(A)?.fleet?.state).toBe('open')
    // The proxy's own (the attempt settling) and the report.
    expect(handed).toBe(2)
  })

  it('without a ctx the failure still reaches the coordinator, and the client gets its 503', async () => {
    const ns = memoryNamespace()
    const handler = createProxy({ upstream: A, store: 'memory', fetch: failing, coordinator: ns.namespace, failureThreshold: 1, minReporters: 1 })
    expect(await (await handler(req())).json()).toEqual({ error: 'upstream_error', key: A })
    const open = () => ns.objects.get(A)?.fleet?.state === 'open'
    for (let i = 0; i < 100 && !open(); i++) await new Promise((resolve) => setImmediate(resolve))
    expect(open()).toBe(true)
  })

  it('without a coordinator only the attempt settling is handed to waitUntil, and for a good GET the copy being stored too', async () => {
    const failed = context()
    await createProxy({ upstream: A, store: 'memory', fetch: failing })(req(), undefined, failed)
    expect(failed.handed()).toBe(1)
    const good = context()
    await (await createProxy({ upstream: A, store: 'memory', fetch: ok })(req(), undefined, good)).text()
    // The attempt settling, the copy kept for the store, and its write.
    expect(good.handed()).toBe(3)
    await good.settle()
  })
})
