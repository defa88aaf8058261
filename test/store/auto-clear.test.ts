/**
 * The 'auto' store, and a cacheStore or idbStore by its name, is the origin's, shared by every instance of a page and by its
 * other tabs: a clear() in one instance (a logout) keeps the copies another instance on it has in flight from landing. Here
 * instances in one realm over a Cache API.
 * Where there is no page nor browser worker (Deno has the Cache API) no channel opens: test/contract checks that the
 * process then ends by itself.
 */
import { afterEach, expect, it, vi } from 'vitest'
import { createFallback, slowResponse } from '../fallback-helper.js'
import { fakeCaches } from './fake-caches.js'
import { cacheStore } from '../../src/store/cache.js'
import { collect, within } from '../gc-helpers.js'

const OPTIONS = { store: 'auto', maxAge: 60_000, maxBodyBytes: 1_000_000, private: false } as const

afterEach(() => {
  vi.unstubAllGlobals()
})

type Fallback = ReturnType<typeof createFallback>

/** A browser's worker with the Cache API (the channel to other tabs opens only in a page or a browser's worker): its fake caches. */
function inBrowserWorker() {
  const fake = fakeCaches()
  vi.stubGlobal('caches', fake.caches)
  vi.stubGlobal('importScripts', () => {})
  return fake
}
const request = { url: 'https://api.test/me', headers: new Headers() }

/** An instance whose store errors land in `reported`. */
const instance = (reported: unknown[], options: Parameters<typeof createFallback>[0] = OPTIONS) => createFallback(options, (_type, detail) => reported.push(detail.error))

/** Each of `storing` starts to store a copy of `request`; `loggingOut` clears; then the copies arrive whole and every write ends. */
async function clearWhileInFlight(loggingOut: Fallback, ...storing: Fallback[]): Promise<void> {
  const writes: Promise<unknown>[] = []
  const slow = storing.map((fallback) => {
    const copy = slowResponse()
    fallback.remember(request, copy.response, (p) => writes.push(p))
    return copy
  })
  await loggingOut.clear()
  for (const { response, end } of slow) {
    end()
    await response.text()
  }
  await Promise.all(writes)
}

/** Two instances on 'auto' over `fake`: one's clear() drops the copy the other has in flight, and nothing is reported. */
async function clearReachesTheOther(fake: ReturnType<typeof fakeCaches>) {
  const reported: unknown[] = []
  const other = instance(reported)
  const loggingOut = instance(reported)
  await clearWhileInFlight(loggingOut, other)
  expect(await other.recall(request)).toBeUndefined()
  expect(fake.entries('resilient-fetch').size).toBe(0)
  expect(reported).toEqual([])
  return { other, reported }
}

it("a clear() of one instance on the 'auto' store drops the copies another has in flight; its later copies land", async () => {
  const { other, reported } = await clearReachesTheOther(inBrowserWorker())

  // A response after the clear is kept as before.
  const writes: Promise<unknown>[] = []
  other.remember(request, new Response('{"user":"new"}'), (p) => writes.push(p))
  await Promise.all(writes)
  expect(await (await other.recall(request))?.response.text()).toBe('{"user":"new"}')
  expect(reported).toEqual([])
})

it('a clear() of one instance on a cacheStore drops the copies in flight of every instance on a cacheStore of that name, not of another', async () => {
  const fake = inBrowserWorker()
  const reported: unknown[] = []
  const on = (cacheName: string) => instance(reported, { ...OPTIONS, store: cacheStore({ cacheName }) })
  const [same, other, loggingOut] = [on('app'), on('other'), on('app')]
  await clearWhileInFlight(loggingOut, same, other)
  expect(await same.recall(request)).toBeUndefined()
  expect(fake.entries('app').size).toBe(0)
  expect(await (await other.recall(request))?.response.text()).toBe('{"user":"old"}')
  expect(reported).toEqual([])
})

it("a page with neither the Cache API nor IndexedDB: 'auto' is a memory store of each instance's own, and one's clear() leaves another's copies alone", async () => {
  vi.stubGlobal('document', {})
  const reported: unknown[] = []
  const other = instance(reported)
  const loggingOut = instance(reported)
  await clearWhileInFlight(loggingOut, other)
  expect(await (await other.recall(request))?.response.text()).toBe('{"user":"old"}')
  expect(reported).toEqual([])
})

it("a clear() after another instance on the store was garbage collected still resolves, and still drops the live ones' copies in flight", async () => {
  const fake = inBrowserWorker()
  const reported: unknown[] = []
  const loggingOut = instance(reported)
  const other = instance(reported)
  let collected!: (held: string) => void
  const gone = new Promise<string>((resolve) => (collected = resolve))
  const registry = new FinalizationRegistry(collected)
  // An instance no one holds any more, made after the others so that no later one's creation lets go of its place.
  registry.register(instance(reported), 'dropped')
  await collect()
  expect(await within(gone)).toEqual({ value: 'dropped' })
  await clearWhileInFlight(loggingOut, other)
  expect(await other.recall(request)).toBeUndefined()
  expect(reported).toEqual([])
})

it("a server runtime with the Cache API (workerd, Deno): one instance's clear() drops the copies another on 'auto' has in flight, and no channel opens", async () => {
  const fake = fakeCaches()
  vi.stubGlobal('caches', fake.caches)
  // Neither a page nor a browser's worker: no document, no importScripts (as in workerd and Deno).
  expect([typeof (globalThis as { document?: unknown }).document, typeof (globalThis as { importScripts?: unknown }).importScripts]).toEqual(['undefined', 'undefined'])
  const opened: string[] = []
  vi.stubGlobal(
    'BroadcastChannel',
    class extends EventTarget {
      constructor(name: string) {
        super()
        opened.push(name)
      }
      postMessage() {}
      close() {}
    },
  )
  await clearReachesTheOther(fake)
  expect(opened).toEqual([])
})
