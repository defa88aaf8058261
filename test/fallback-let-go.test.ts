/**
 * What the fallback lets go of, seen through real GCs in Node: a copy or a write that will never finish (workerd drops
 * what a request that answered left running, timers included) must not stay referenced, or a Worker serving many URLs
 * piles them up for the life of its isolate.
 */
import { afterEach, beforeEach, expect, it, vi } from 'vitest'
import { createFallback } from './fallback-helper.js'
import { gc } from './gc-helpers.js'
import { memoryStore } from '../src/store/memory.js'
import type { FallbackStore } from '../src/types.js'

const URL_A = 'https://api.example.com/items?page=1'

beforeEach(() => {
  vi.useFakeTimers({ now: 1_700_000_000_000, toFake: ['setTimeout', 'clearTimeout'] })
})
afterEach(() => {
  vi.useRealTimers()
})

/** Full GCs with turns of the event loop between them (setImmediate is not faked), so weak references made before clear. */
async function collect(): Promise<void> {
  for (let i = 0; i < 3; i++) {
    await new Promise((resolve) => setImmediate(resolve))
    gc()
  }
}

function fallbackOver(store: FallbackStore, now: () => number) {
  return createFallback({ store, maxAge: 86_400_000, maxBodyBytes: 1_000_000, private: false }, () => {}, now)
}

/** A body whose first chunk arrives and whose end never does. */
function endlessBody(): ReadableStream<Uint8Array> {
  return new ReadableStream({ start: (controller) => controller.enqueue(new TextEncoder().encode('{"n":')) })
}

it('a copy that never finishes is let go once it kept a read waiting its while', async () => {
  const fallback = fallbackOver(memoryStore(), () => Date.now())
  const remembered = (() => {
    const request = { url: URL_A, headers: new Headers() }
    fallback.remember(request, new Response(endlessBody(), { headers: { 'content-type': 'application/json' } }))
    return new WeakRef(request)
  })()
  const read = fallback.recall({ url: URL_A, headers: new Headers() })
  await vi.advanceTimersByTimeAsync(500)
  expect(await read).toBeUndefined()
  // As workerd does when the copy's request ended: the timer that would end the copy's reading is gone.
  vi.clearAllTimers()
  await collect()
  expect(remembered.deref()).toBeUndefined()
})

/** A store whose puts never settle, with weak references to the entries they were given. */
function hungPuts() {
  const written: WeakRef<object>[] = []
  const store: FallbackStore = {
    get: async () => undefined,
    put: (_key, entry) => {
      written.push(new WeakRef(entry))
      return new Promise(() => {})
    },
    delete: async () => {},
    clear: async () => {},
  }
  return { store, written }
}

const json = () => new Response('{"n":1}', { headers: { 'content-type': 'application/json' } })

it('a write a clear() came after that never settles is let go once taken for lost', async () => {
  let time = 1_700_000_000_000
  const { store, written } = hungPuts()
  const fallback = fallbackOver(store, () => time)
  fallback.remember({ url: URL_A, headers: new Headers() }, json())
  await vi.advanceTimersByTimeAsync(0)
  expect(written).toHaveLength(1)
  await fallback.clear()
  // The put's own bound (a storeerror) has passed, and LOST_AFTER past it: the next read drops the write.
  await vi.advanceTimersByTimeAsync(10_000)
  time += 11_000
  expect(await fallback.recall({ url: URL_A, headers: new Headers() })).toBeUndefined()
  await collect()
  expect(written[0]!.deref()).toBeUndefined()
})

it('a write that never settles is let go once taken for lost, with no clear() or read: when the next write begins', async () => {
  let time = 1_700_000_000_000
  const { store, written } = hungPuts()
  const fallback = fallbackOver(store, () => time)
  fallback.remember({ url: URL_A, headers: new Headers() }, json())
  await vi.advanceTimersByTimeAsync(10_000)
  time += 11_000
  fallback.remember({ url: `${URL_A}&other`, headers: new Headers() }, json())
  await vi.advanceTimersByTimeAsync(0)
  expect(written).toHaveLength(2)
  await collect()
  expect(written[0]!.deref()).toBeUndefined()
})
