/**
 * A caller that aborts its own call while the 200's body still streams, against a real HTTP server on 127.0.0.1 (real
 * sockets): the fallback's copy of the body ends with the caller's abort, which is the caller's, not a store failure.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { createResilientFetch, memoryStore } from '../src/index.js'

const CHUNKS = 5
let server: Server
let origin: string

beforeAll(async () => {
  // A JSON body in CHUNKS lines, one every 30 ms: bounded, whether or not the client stays.
  server = createServer((_req: IncomingMessage, res: ServerResponse) => {
    res.writeHead(200, { 'content-type': 'application/json' })
    let sent = 0
    const tick = setInterval(() => (++sent < CHUNKS ? res.write(`{"n":${sent}}\n`) : res.end()), 30)
    res.write('{"n":0}\n')
    res.on('close', () => clearInterval(tick))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})

afterAll(async () => {
  server.closeAllConnections()
  await new Promise<void>((resolve) => server.close(() => resolve()))
})

/** An instance over a memory store, its storeerror events, and the background work its calls hand to waitUntil. */
function setup() {
  const store = memoryStore()
  const rf = createResilientFetch({ retry: false, timeout: false, fallback: { store } })
  const errors: unknown[] = []
  rf.addEventListener('storeerror', (event) => errors.push(event.detail.error))
  const background: Promise<unknown>[] = []
  const waitUntil = (p: Promise<unknown>) => void background.push(p)
  // Until no more work is handed over (a copy taken while the fallback's chunk loads hands over its write later).
  async function settled() {
    for (let seen = -1; seen !== background.length; ) {
      seen = background.length
      await Promise.allSettled(background)
    }
  }
  return { rf, store, errors, waitUntil, settled }
}

it("a caller's abort while the body streams emits no storeerror and stores nothing", async () => {
  const t = setup()
  const controller = new AbortController()
  const reason = new Error('the caller left')
  const response = await t.rf(`${origin}/data`, { signal: controller.signal, resilience: { waitUntil: t.waitUntil } })
  const reader = response.body!.getReader()
  await reader.read()
  controller.abort(reason)
  await expect(reader.read()).rejects.toBe(reason)
  await t.settled()
  expect(t.errors).toEqual([])
  expect(await t.store.get(`GET ${origin}/data`)).toBeUndefined()
})

it('the same body read to its end is stored (the copy is taken at all)', async () => {
  const t = setup()
  const response = await t.rf(`${origin}/data`, { signal: new AbortController().signal, resilience: { waitUntil: t.waitUntil } })
  expect((await response.text()).split('\n')).toHaveLength(CHUNKS + 1)
  await t.settled()
  expect(t.errors).toEqual([])
  expect(await t.store.get(`GET ${origin}/data`)).toMatchObject({ url: `${origin}/data`, status: 200 })
})
