/**
 * The proxy in workerd against a real upstream on 127.0.0.1 that answers `101 Switching Protocols` to a plain request.
 * The proxy forwards no Upgrade (a hop-by-hop header; it passes no WebSocket), so a 101 is an upgrade nobody asked for:
 * workerd's fetch resolves with it (no webSocket, an empty body) and the upstream's real answer, if any, is lost. The
 * attempt failed, and the origin's breaker must count it so, as the client's answer does: a 503 upstream_error, the
 * pool's other origin, or the last good copy; never a success on the breaker beside a failure to the client.
 */
import { createServer, type Server } from 'node:http'
import { resolve } from 'node:path'
import type { Duplex } from 'node:stream'
import type { Miniflare } from 'miniflare'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { closeServer, listen } from './harness.js'
import { bundleWorker, type WorkerBundle } from './workerd-harness.js'

let worker: WorkerBundle
let miniflare: Miniflare
let upstream: Server
let origin: string
/** Paths that answer 101 to a plain request. */
const switching = new Set<string>()
/** Requests that reached the upstream as upgrades (with Upgrade), and requests seen, by path. */
let upgrades = 0
const hits = new Map<string, number>()
const sockets: Duplex[] = []

beforeAll(async () => {
  upstream = createServer((req, res) => {
    hits.set(req.url ?? '', (hits.get(req.url ?? '') ?? 0) + 1)
    if (switching.has(req.url ?? '')) {
      sockets.push(req.socket)
      // What a broken or misrouted upstream sends: a protocol switch the request did not ask for.
      return void req.socket.end('HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\n\r\n')
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ path: req.url }))
  })
  upstream.on('upgrade', (_req, socket: Duplex) => {
    upgrades++
    sockets.push(socket)
    socket.on('error', () => {})
    socket.end('HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n')
  })
  origin = `http://127.0.0.1:${await listen(upstream)}`
  const WORKER = `
import { createProxy } from ${JSON.stringify(resolve(import.meta.dirname, '../../src/worker/index.ts'))}
const handler = createProxy({ upstream: ${JSON.stringify(origin)}, store: 'memory', failureThreshold: 2, openDuration: 60000 })
export default { fetch: (request, env, ctx) => handler(request, env, ctx) }
`
  worker = await bundleWorker(WORKER, 'workerd-proxy-switching')
  miniflare = await worker.start()
})

afterAll(async () => {
  for (const socket of sockets) socket.destroy()
  await miniflare?.dispose()
  await closeServer(upstream)
  await worker?.remove()
})

const get = async (path: string, headers?: Record<string, string>) => {
  const response = await miniflare.dispatchFetch(`http://proxy.test${path}`, { headers })
  return { status: response.status, source: response.headers.get('x-resilient-source'), body: await response.text() }
}
const breaker = async () => {
  const snapshot = JSON.parse((await get('/metrics.json')).body) as { breakers: { key: string; state: string; failures: number }[] }
  const { state, failures } = snapshot.breakers.find((b) => b.key === origin) ?? { state: 'none', failures: 0 }
  return { state, failures }
}

it('a client that asks for a WebSocket gets no upgrade through the proxy: the upstream sees a plain request', async () => {
  const response = await get('/api/plain', { upgrade: 'websocket', connection: 'Upgrade', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==', 'sec-websocket-version': '13' })
  expect(response).toEqual({ status: 200, source: null, body: '{"path":"/plain"}' })
  expect(upgrades).toBe(0)
  expect(await breaker()).toEqual({ state: 'closed', failures: 0 })
})

it('an unrequested 101 is a failed attempt to the client and to the breaker alike: a copy answers, then the breaker opens', async () => {
  expect(await get('/api/data')).toEqual({ status: 200, source: null, body: '{"path":"/data"}' })
  // The copy is stored in waitUntil: wait for it to be there (a 101 then answers with it).
  switching.add('/data')
  await expect.poll(async () => (await get('/api/data')).source, { timeout: 10_000, interval: 50 }).toBe('fallback')
  expect(await breaker()).toEqual({ state: 'closed', failures: 1 })
  switching.add('/other')
  expect(await get('/api/other')).toEqual({ status: 503, source: null, body: JSON.stringify({ error: 'upstream_error', key: origin }) })
  // The second failure opens it: the next request is refused without reaching the upstream.
  expect(await breaker()).toEqual({ state: 'open', failures: 2 })
  const before = hits.get('/other')
  expect(JSON.parse((await get('/api/other')).body)).toEqual({ error: 'circuit_open', key: origin })
  expect(hits.get('/other')).toBe(before)
})
