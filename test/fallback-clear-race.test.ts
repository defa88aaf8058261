/**
 * rf.clear() (a logout) against copies still in flight, with a real server on 127.0.0.1: nothing remembered before
 * the clear is served after it resolves, whatever order the store's writes land in, and a URL is not left without
 * copies for good.
 */
import { createServer, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, expect, it, vi } from 'vitest'
import { createResilientFetch, memoryStore } from '../src/index.js'
import type { FallbackStore } from '../src/types.js'

let server: Server
let origin: string
let user = 'alice'
let status = 200
/** The response to hold with its body half sent (one at a time), for the copy still being read. */
let hold = false
let held: ServerResponse | undefined
/** Requests answered so far. */
let answered = 0

beforeAll(async () => {
  server = createServer((_req, res) => {
    answered++
    res.writeHead(status, { 'content-type': 'application/json' })
    if (!hold) return res.end(JSON.stringify({ user }))
    hold = false
    res.write('{"user":')
    held = res
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})
afterAll(async () => {
  server.closeAllConnections()
  await new Promise<void>((resolve) => server.close(() => resolve()))
})

/** A memory store whose first put waits for `release()`, as a slow IndexedDB write does; `landed` counts the puts done. */
function slowFirstPut() {
  const store: FallbackStore = memoryStore()
  const put = store.put.bind(store)
  const state = { puts: 0, landed: 0, release: () => {} }
  vi.spyOn(store, 'put').mockImplementation(async (key, entry) => {
    if (state.puts++ === 0) await new Promise<void>((resolve) => (state.release = resolve))
    await put(key, entry)
    state.landed++
  })
  return { store, state }
}

const options = (store: FallbackStore) => ({ retry: false as const, breaker: false as const, timeout: { attempt: 2_000, total: 4_000 }, fallback: { store } })

/** The fallback's answer to a failing call: the copy's JSON, or null when it answered with the failure. */
async function served(rf: typeof fetch, url: string): Promise<unknown> {
  status = 503
  try {
    const response = await rf(url)
    return response.headers.get('x-resilient-source') === 'fallback' ? await response.json() : null
  } finally {
    status = 200
  }
}

it('a write begun before rf.clear() that lands after a newer write of the same URL is never served after the clear', async () => {
  const { store, state } = slowFirstPut()
  const rf = createResilientFetch(options(store))
  const url = `${origin}/me-race`
  user = 'alice'
  await (await rf(url)).text()
  await vi.waitFor(() => expect(state.puts).toBe(1))
  // The logout, while alice's copy is still being written.
  await rf.clear()
  user = 'bob'
  await (await rf(url)).text()
  // Bob's copy lands first, then alice's pre-logout one.
  await vi.waitFor(() => expect(state.landed).toBe(1))
  state.release()
  await vi.waitFor(() => expect(state.landed).toBe(2))
  await vi.waitFor(async () => expect(await store.get(`GET ${url}`)).toBeUndefined())
  expect(await served(rf, url)).toBeNull()
})

it('a write in flight across two rf.clear() calls leaves its URL free once it landed: the next good copy is kept and served', async () => {
  const { store, state } = slowFirstPut()
  const rf = createResilientFetch(options(store))
  const url = `${origin}/me-twice`
  user = 'alice'
  await (await rf(url)).text()
  await vi.waitFor(() => expect(state.puts).toBe(1))
  await rf.clear()
  await rf.clear()
  state.release()
  await vi.waitFor(() => expect(state.landed).toBe(1))
  user = 'bob'
  // A second later: the fallback copies a URL at most once a second, and the clear forgot the last time.
  await (await rf(url)).text()
  await vi.waitFor(() => expect(state.landed).toBe(2))
  expect(await served(rf, url)).toEqual({ user: 'bob' })
})

it('a copy still being written when rf.clear() resolves is not served afterwards, even to a call that was already waiting for it', async () => {
  const rf = createResilientFetch(options(memoryStore()))
  const url = `${origin}/me-waiting`
  user = 'alice'
  hold = true
  // 200 with its body still arriving: the fallback's copy is being read.
  const first = await rf(url)
  status = 503
  // Fails, and its recall waits for the copy being read: the 503 is sent before the status goes back to 200.
  const before = answered
  const second = rf(url)
  await vi.waitFor(() => expect(answered).toBe(before + 1))
  // Time for the 503 to reach the fallback (no signal says its recall has begun; later, it is not served either).
  await new Promise((resolve) => setTimeout(resolve, 100))
  status = 200
  await rf.clear()
  held!.end('"alice"}')
  expect(await first.json()).toEqual({ user: 'alice' })
  const response = await second
  expect(response.status).toBe(503)
  expect(response.headers.get('x-resilient-source')).toBeNull()
})
