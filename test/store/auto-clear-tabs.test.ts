/**
 * A logout in one tab reaches the copies in flight of the origin's other tabs and workers: the fallback tells them on a
 * BroadcastChannel. Here a browser's channel (no unref, unlike Node's), the messages of other tabs delivered by hand.
 */
import { afterEach, beforeEach, expect, it, vi } from 'vitest'
import { createFallback, slowResponse } from '../fallback-helper.js'
import { fakeCaches } from './fake-caches.js'
import { cacheStore } from '../../src/store/cache.js'

const OPTIONS = { store: 'auto', maxAge: 60_000, maxBodyBytes: 1_000_000, private: false } as const

/** A browser's BroadcastChannel as this realm's only one: what it was opened on, what it posted. */
class BrowserChannel {
  static opened: BrowserChannel[] = []
  onmessage: ((event: { data: unknown }) => void) | null = null
  posted: unknown[] = []
  constructor(readonly name: string) {
    BrowserChannel.opened.push(this)
  }
  postMessage(data: unknown): void {
    this.posted.push(data)
  }
  close(): void {}
}

beforeEach(() => {
  vi.stubGlobal('caches', fakeCaches().caches)
  vi.stubGlobal('BroadcastChannel', BrowserChannel)
  // A browser's worker (the channel to other tabs opens only in a page or a browser's worker).
  vi.stubGlobal('importScripts', () => {})
})
afterEach(() => {
  vi.unstubAllGlobals()
})

const request = { url: 'https://api.test/me', headers: new Headers() }

/** `fallback` remembers a copy whose body is still arriving; `land()` ends it and waits for its write. */
function inFlight(fallback: ReturnType<typeof createFallback>) {
  const slow = slowResponse()
  const writes: Promise<unknown>[] = []
  fallback.remember(request, slow.response, (p) => writes.push(p))
  return async () => {
    slow.end()
    await slow.response.text()
    await Promise.all(writes)
  }
}

it("another tab's clear() of the 'auto' store, told on the channel, drops the copies in flight here; later copies land", async () => {
  const reported: unknown[] = []
  const fallback = createFallback(OPTIONS, (_type, detail) => reported.push(detail.error))
  const land = inFlight(fallback)
  const [channel] = BrowserChannel.opened
  channel!.onmessage!({ data: 'auto' })
  await land()
  expect(await fallback.recall(request)).toBeUndefined()

  const writes: Promise<unknown>[] = []
  fallback.remember(request, new Response('{"user":"new"}'), (p) => writes.push(p))
  await Promise.all(writes)
  expect(await (await fallback.recall(request))?.response.text()).toBe('{"user":"new"}')
  expect(reported).toEqual([])
})

it('a clear() tells the other tabs on one channel which store it cleared', async () => {
  const fallback = createFallback(OPTIONS, () => {})
  const onCache = createFallback({ ...OPTIONS, store: cacheStore({ cacheName: 'app' }) }, () => {})
  await fallback.clear()
  await onCache.clear()
  expect(BrowserChannel.opened.map((channel) => channel.name)).toEqual(['resilient-fetch:clear'])
  expect(BrowserChannel.opened[0]!.posted.slice(-2)).toEqual(['auto', 'cache:app'])
})

it("in a browser, whose channel has no unref, one instance's clear() drops another's copies in flight", async () => {
  const other = createFallback(OPTIONS, () => {})
  const loggingOut = createFallback(OPTIONS, () => {})
  const land = inFlight(other)
  await loggingOut.clear()
  await land()
  expect(await other.recall(request)).toBeUndefined()
})
