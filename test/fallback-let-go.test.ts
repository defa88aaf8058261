/**
 * What the fallback lets go of, seen through real GCs in Node: a copy that will never finish (workerd drops what a
 * request that answered left running, timers included) must not stay referenced, or a Worker serving many URLs piles
 * them up for the life of its isolate.
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
