// The proxy in Node against a real upstream on 127.0.0.1 (node:http), through the runtime's own fetch: what it sends,
// what the client gets back, and the copy that answers once the upstream fails.
import { createServer, type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest'
import { createProxy } from '../src/worker/proxy.js'

let server: Server
let origin: string
const seen: { method: string; url: string; headers: IncomingMessage['headers']; body: string }[] = []
let failing = false

beforeAll(async () => {
  server = createServer((request, response) => {
    const chunks: Buffer[] = []
    request.on('data', (chunk: Buffer) => chunks.push(chunk))
    request.on('end', () => {
      const body = Buffer.concat(chunks).toString()
      seen.push({ method: request.method!, url: request.url!, headers: request.headers, body })
      if (failing) return void response.writeHead(500).end('down')
      response.writeHead(200, { 'content-type': 'application/json', connection: 'keep-alive, x-hop', 'x-hop': 'secret', 'x-kept': 'yes' })
      response.end(JSON.stringify({ url: request.url, body }))
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})

afterAll(async () => {
  server.closeAllConnections()
  await new Promise((resolve) => server.close(resolve))
})

beforeEach(() => {
  seen.length = 0
  failing = false
  vi.spyOn(console, 'log').mockImplementation(() => {})
})

const req = (path: string, init?: RequestInit) => new Request(`http://proxy.test${path}`, init)

describe('against a real upstream', () => {
  it('forwards the path past the prefix and the query, without hop-by-hop headers either way; the copy answers its failure', async () => {
    const handler = createProxy({ upstream: `${origin}/v1`, store: 'memory', timeout: 5_000 })
    const pending: Promise<unknown>[] = []
    const ctx = { waitUntil: (promise: Promise<unknown>) => void pending.push(promise) }
    const live = await handler(req('/api/items/7?x=%2F', { headers: { 'x-request-id': 'abc', 'x-forwarded-host': 'evil.test' } }), undefined, ctx)
    expect(live.status).toBe(200)
    expect([live.headers.get('x-hop'), live.headers.get('x-kept')]).toEqual([null, 'yes'])
    expect(await live.json()).toEqual({ url: '/v1/items/7?x=%2F', body: '' })
    expect(seen[0]).toMatchObject({ method: 'GET', url: '/v1/items/7?x=%2F', headers: { 'x-request-id': 'abc' } })
    expect(seen[0]!.headers['x-forwarded-host']).toBeUndefined()
    await Promise.all(pending)
    failing = true
    const copy = await handler(req('/api/items/7?x=%2F'), undefined, ctx)
    expect(copy.headers.get('x-resilient-source')).toBe('fallback')
    expect(await copy.json()).toEqual({ url: '/v1/items/7?x=%2F', body: '' })
    const none = await handler(req('/api/items/8'))
    expect([none.status, await none.json()]).toEqual([503, { error: 'upstream_error', key: origin }])
    expect(seen).toHaveLength(3)
  })

  it("sends a client's body to the upstream, streamed to one origin and read once for a pool's retry", async () => {
    const one = createProxy({ upstream: origin, store: 'memory', methods: 'POST,PUT', timeout: 5_000 })
    for (const method of ['POST', 'PUT']) {
      const response = await one(req('/api/items', { method, body: `${method} body` }))
      expect([response.status, await response.json()]).toEqual([200, { url: '/items', body: `${method} body` }])
    }
    // Nothing held against the origin: a body refused by the proxy's own fetch would have counted as its failure.
    expect(await (await one(req('/metrics.json'))).json()).toMatchObject({ totals: { successes: 2, failures: 0 } })
    // Port 9 refuses the connection: the PUT that starts there (the rotation's turn) is retried here with the body read once.
    const pool = createProxy({ routes: { '/api/': [origin, 'http://127.0.0.1:9'] }, store: 'memory', methods: 'POST,PUT', timeout: 5_000 })
    for (const method of ['POST', 'PUT']) {
      const response = await pool(req('/api/items', { method, body: `${method} pooled` }))
      expect([response.status, await response.json()]).toEqual([200, { url: '/items', body: `${method} pooled` }])
    }
    expect(seen.map((r) => `${r.method} ${r.body}`)).toEqual(['POST POST body', 'PUT PUT body', 'POST POST pooled', 'PUT PUT pooled'])
  })
})
