/**
 * A write that changed an item, against a real server on 127.0.0.1: once a DELETE was answered 204, a failing GET of the
 * item gets the failure, never the copy from before the delete (the deleted item back on screen).
 */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, expect, it, vi } from 'vitest'
import { createResilientFetch, memoryStore } from '../src/index.js'

let server: Server
let origin: string
const items = new Map<string, { name: string }>()
let down = false

beforeAll(async () => {
  server = createServer((req, res) => {
    const item = items.get(req.url!)
    if (down) return res.writeHead(503, { 'content-type': 'text/plain' }).end('down')
    if (req.method === 'DELETE') {
      items.delete(req.url!)
      return res.writeHead(204).end()
    }
    if (req.method === 'POST') {
      items.set('/items/6', { name: 'new' })
      return res.writeHead(201, { location: '/items/6', 'content-type': 'application/json' }).end('{}')
    }
    if (item === undefined) return res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not found"}')
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(item))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})
afterAll(async () => {
  server.closeAllConnections()
  await new Promise<void>((resolve) => server.close(() => resolve()))
})

const options = (store: ReturnType<typeof memoryStore>) => ({ retry: false as const, breaker: false as const, timeout: { attempt: 2_000, total: 4_000 }, fallback: { store } })

it('GET stored, DELETE answered 204, the upstream fails: the next GET gets the failure, not the deleted item', async () => {
  const store = memoryStore()
  const rf = createResilientFetch(options(store))
  const url = `${origin}/items/5`
  items.set('/items/5', { name: 'five' })
  expect(await (await rf(url)).json()).toEqual({ name: 'five' })
  await vi.waitFor(async () => expect(await store.get(`GET ${url}`)).toBeDefined(), { timeout: 2_000 })
  const deleted = await rf(url, { method: 'DELETE' })
  expect(deleted.status).toBe(204)
  down = true
  try {
    const response = await rf(url)
    expect(response.status).toBe(503)
    expect(response.headers.get('x-resilient-source')).toBeNull()
    expect(await response.text()).toBe('down')
  } finally {
    down = false
  }
  await vi.waitFor(async () => expect(await store.get(`GET ${url}`)).toBeUndefined(), { timeout: 2_000 })
})

it('a POST answered 201 with a Location drops the stale copy of the item it names', async () => {
  const store = memoryStore()
  const rf = createResilientFetch(options(store))
  const url = `${origin}/items/6`
  items.set('/items/6', { name: 'old' })
  expect(await (await rf(url)).json()).toEqual({ name: 'old' })
  await vi.waitFor(async () => expect(await store.get(`GET ${url}`)).toBeDefined(), { timeout: 2_000 })
  expect((await rf(`${origin}/items`, { method: 'POST', body: '{"name":"new"}' })).status).toBe(201)
  down = true
  try {
    expect((await rf(url)).status).toBe(503)
  } finally {
    down = false
  }
})
