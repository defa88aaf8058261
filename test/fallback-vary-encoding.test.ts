/**
 * Vary: Accept-Encoding (what nginx's gzip_vary, Express's compression and most CDNs send) does not split copies by the
 * request's Accept-Encoding: a copy keeps the body decoded, without its Content-Encoding, so it answers a request
 * whatever codings that accepts. (Through the proxy each browser sends its own list: Chrome's is not Safari's, nor curl's.)
 */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { gzipSync } from 'node:zlib'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { FallbackRequest } from '../src/fallback.js'
import { createFallback } from './fallback-helper.js'
import { createResilientFetch, memoryStore } from '../src/index.js'

const request = (headers: HeadersInit): FallbackRequest => ({ url: 'https://api.example.com/items', headers: new Headers(headers) })

describe('Vary: Accept-Encoding', () => {
  it("a copy answers a request whatever codings it accepts; the response's other Vary headers still must match", async () => {
    const fallback = createFallback({ store: memoryStore(), maxAge: 60_000, maxBodyBytes: 1_000, private: false }, () => {})
    const work: Promise<unknown>[] = []
    const response = new Response('items', { headers: { vary: 'Accept-Encoding, Accept-Language' } })
    fallback.remember(request({ 'accept-encoding': 'gzip, deflate, br, zstd', 'accept-language': 'fr' }), response, (p) => work.push(p))
    await Promise.all(work)
    for (const encoding of [{ 'accept-encoding': 'gzip, deflate, br' }, { 'accept-encoding': 'identity' }, {}] as Record<string, string>[]) {
      const found = await fallback.recall(request({ ...encoding, 'accept-language': 'fr' }))
      expect(await found?.response.text()).toBe('items')
      expect(found!.response.headers.get('vary')).toBe('Accept-Encoding, Accept-Language')
    }
    expect(await fallback.recall(request({ 'accept-encoding': 'gzip, deflate, br, zstd', 'accept-language': 'de' }))).toBeUndefined()
  })
})

describe('against a real compressing upstream on 127.0.0.1', () => {
  let server: Server
  let origin: string
  let status = 200

  beforeAll(async () => {
    server = createServer((req, res) => {
      if (status !== 200) return void res.writeHead(status).end()
      const gzip = /gzip/.test(req.headers['accept-encoding'] ?? '')
      res.writeHead(200, { 'content-type': 'application/json', vary: 'Accept-Encoding', ...(gzip ? { 'content-encoding': 'gzip' } : {}) })
      const body = JSON.stringify({ items: [1, 2, 3] })
      res.end(gzip ? gzipSync(body) : body)
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  })

  afterAll(async () => {
    server.closeAllConnections()
    await new Promise<void>((resolve) => server.close(() => resolve()))
  })

  it('a copy fetched gzipped by one client answers another that asked for no coding', async () => {
    status = 200
    const rf = createResilientFetch({ retry: false, fallback: { store: memoryStore() } })
    const work: Promise<unknown>[] = []
    const resilience = { waitUntil: (p: Promise<unknown>) => void work.push(p) }
    const first = await rf(`${origin}/items`, { headers: { 'accept-encoding': 'gzip, br' }, resilience })
    expect(await first.json()).toEqual({ items: [1, 2, 3] })
    while (work.length > 0) await work.shift()
    status = 503
    const copy = await rf(`${origin}/items`, { headers: { 'accept-encoding': 'identity' } })
    expect(copy.headers.get('x-resilient-source')).toBe('fallback')
    expect(copy.headers.get('content-encoding')).toBeNull()
    expect(await copy.json()).toEqual({ items: [1, 2, 3] })
  })
})
