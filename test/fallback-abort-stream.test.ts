/**
 * A caller that aborts its own call while the 200's body still streams (fake transport, fake time): the fallback's copy
 * of the body ends with the caller's abort, which is the caller's, not a store failure. A store that fails is still reported.
 */
import { afterEach, beforeEach, expect, it, vi } from 'vitest'
import { createResilientFetch, memoryStore, type FallbackStore } from '../src/index.js'

const URL_A = 'https://api.example.com/items'
const KEY = `GET ${URL_A}`
const bytes = (text: string) => new TextEncoder().encode(text)

beforeEach(() => void vi.useFakeTimers())
afterEach(() => void vi.useRealTimers())

/** A transport as fetch behaves: each 200 sends its first chunk at once, the latest ends on `end()`, and errors with the signal's reason when it aborts. */
function transport() {
  const ends: (() => void)[] = []
  const fetch = async (_input: RequestInfo | URL, init?: RequestInit) => {
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(bytes('{"items":'))
        init?.signal?.addEventListener('abort', () => controller.error(init.signal!.reason))
        ends.push(() => {
          controller.enqueue(bytes('[1]}'))
          controller.close()
        })
      },
    })
    return new Response(body, { headers: { 'content-type': 'application/json' } })
  }
  return { fetch, end: () => ends.pop()!() }
}

/** An instance on `store` over the transport, its storeerror events, and the background work its calls hand to waitUntil. */
function setup(store: FallbackStore = memoryStore()) {
  const upstream = transport()
  const rf = createResilientFetch({ fetch: upstream.fetch, retry: false, timeout: false, fallback: { store } })
  const errors: unknown[] = []
  rf.addEventListener('storeerror', (event) => errors.push(event.detail.error))
  const background: Promise<unknown>[] = []
  const call = (signal?: AbortSignal) => rf(URL_A, { signal, resilience: { waitUntil: (p) => void background.push(p) } })
  // Until no more work is handed over (a copy taken while the fallback's chunk loads hands over its write later).
  async function settled() {
    for (let seen = -1; seen !== background.length; ) {
      seen = background.length
      await vi.advanceTimersByTimeAsync(0)
      await Promise.allSettled(background)
    }
  }
  return { store, errors, call, end: upstream.end, settled }
}

it("a caller's abort while the body streams emits no storeerror, stores nothing, and the next good response is stored at once", async () => {
  const t = setup()
  const put = vi.spyOn(t.store, 'put')
  const controller = new AbortController()
  const reason = new Error('the caller left')
  const reader = (await t.call(controller.signal)).body!.getReader()
  await reader.read()
  controller.abort(reason)
  await expect(reader.read()).rejects.toBe(reason)
  await t.settled()
  expect(t.errors).toEqual([])
  expect(put).not.toHaveBeenCalled()
  // In the same millisecond: the aborted copy does not hold the key's once-a-second refresh.
  const next = await t.call(new AbortController().signal)
  t.end()
  expect(await next.text()).toBe('{"items":[1]}')
  await t.settled()
  expect(t.errors).toEqual([])
  expect(put).toHaveBeenCalledTimes(1)
  expect(new TextDecoder().decode((await t.store.get(KEY))!.body)).toBe('{"items":[1]}')
})

it('a caller that aborts once the body has ended does not hide a store that fails', async () => {
  const failure = new Error('disk on fire')
  let failPut!: () => void
  const store = memoryStore()
  vi.spyOn(store, 'put').mockImplementation(() => new Promise<void>((_, reject) => (failPut = () => reject(failure))))
  const t = setup(store)
  const controller = new AbortController()
  const response = await t.call(controller.signal)
  t.end()
  await response.text()
  await vi.waitFor(() => expect(failPut).toBeDefined())
  controller.abort(new Error('the caller left'))
  failPut()
  await t.settled()
  expect(t.errors).toEqual([failure])
})
