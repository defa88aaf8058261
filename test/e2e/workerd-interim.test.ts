/**
 * The library inside a Worker, against a real upstream on 127.0.0.1 that answers 103 Early Hints and then 502: workerd's
 * fetch resolves with the 103 (the 502 is left in the body). The instance's breaker must count it as a failure and open,
 * and its fallback must answer with the last good copy, as the proxy does. A WebSocket upgrade (101) stays an answer.
 */
import { createHash } from 'node:crypto'
import { createServer, type Server } from 'node:http'
import { resolve } from 'node:path'
import type { Duplex } from 'node:stream'
import type { Miniflare } from 'miniflare'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { closeServer, listen } from './harness.js'
import { bundleWorker, type WorkerBundle } from './workerd-harness.js'

const WORKER = `
import { createResilientFetch } from ${JSON.stringify(resolve(import.meta.dirname, '../../src/index.ts'))}
const rf = createResilientFetch({ retry: false, breaker: { window: 'consecutive', failureThreshold: 3 }, fallback: { store: 'memory' } })
const seen = []
// Its own instance for the WebSocket, whose breaker the 103s do not touch.
const rfSocket = createResilientFetch({ breaker: { window: 'consecutive', failureThreshold: 1 }, fallback: { store: 'memory' } })
for (const type of ['success', 'failure', 'fallback', 'statechange']) {
  rf.addEventListener(type, (event) => seen.push(type + ' ' + (event.detail.status ?? event.detail.to ?? '')))
  rfSocket.addEventListener(type, (event) => seen.push('socket ' + type + ' ' + (event.detail.status ?? event.detail.to ?? '')))
}

export default {
  async fetch(request, env, ctx) {
    const url = new URL(request.url)
    const target = url.searchParams.get('target')
    const breakers = (instance) => instance.snapshot().breakers.map(({ state, failures }) => ({ state, failures }))
    if (url.pathname === '/seen') return Response.json({ seen: seen.splice(0), breakers: breakers(rf), socket: breakers(rfSocket) })
    if (url.pathname === '/ws') {
      const response = await rfSocket(target, { headers: { upgrade: 'websocket' } })
      const socket = response.webSocket
      socket?.accept()
      socket?.close(1000, 'done')
      return Response.json({ status: response.status, socket: socket != null })
    }
    try {
      const response = await rf(target, { resilience: { waitUntil: (promise) => ctx.waitUntil(promise) } })
      // An interim answer's body is the rest of the upstream's stream: not read.
      const body = response.status < 200 ? void (await response.body?.cancel()) : await response.text()
      return Response.json({ status: response.status, source: response.headers.get('x-resilient-source'), body })
    } catch (error) {
      return Response.json({ error: error.name })
    }
  },
}
`

let worker: WorkerBundle
let upstream: Server
let origin: string
let miniflare: Miniflare
/** Paths that answer 103 Early Hints, then 502. */
const early = new Set<string>()
let upgrades = 0
/** Upgraded sockets leave the server's own count of connections: closed by hand. */
const sockets: Duplex[] = []

beforeAll(async () => {
  upstream = createServer((req, res) => {
    if (early.has(req.url ?? '')) return void res.writeEarlyHints({ link: '</style.css>; rel=preload; as=style' }, () => res.writeHead(502, { connection: 'close' }).end('down'))
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ path: req.url }))
  })
  upstream.on('upgrade', (req, socket) => {
    upgrades++
    sockets.push(socket)
    const accept = createHash('sha1').update(`${req.headers['sec-websocket-key']}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64')
    socket.on('error', () => {})
    socket.end(`HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\nsec-websocket-accept: ${accept}\r\n\r\n`)
  })
  origin = `http://127.0.0.1:${await listen(upstream)}`
  worker = await bundleWorker(WORKER, 'workerd-interim')
  miniflare = await worker.start()
})

afterAll(async () => {
  for (const socket of sockets) socket.destroy()
  await miniflare?.dispose()
  await closeServer(upstream)
  await worker?.remove()
})

const call = async (path: string, route = '/') => JSON.parse(await (await miniflare.dispatchFetch(`http://worker.test${route}?target=${encodeURIComponent(origin + path)}`)).text())
const seen = async () => JSON.parse(await (await miniflare.dispatchFetch('http://worker.test/seen')).text())

it('a 103 is a failure: answered by the last good copy, counted by the breaker, which opens', async () => {
  expect(await call('/data')).toEqual({ status: 200, source: null, body: '{"path":"/data"}' })
  expect(await seen()).toMatchObject({ seen: ['success 200'], breakers: [{ state: 'closed', failures: 0 }] })
  early.add('/data')
  early.add('/other')
  // The copy was stored in waitUntil: it answers for the 103, as it would for the 502 behind it.
  expect(await call('/data')).toEqual({ status: 200, source: 'fallback', body: '{"path":"/data"}' })
  // Without a copy the caller gets what fetch gave: the 103.
  expect(await call('/other')).toMatchObject({ status: 103, source: null })
  expect(await seen()).toMatchObject({ seen: ['failure 103', 'fallback ', 'failure 103'], breakers: [{ state: 'closed', failures: 2 }] })
  expect(await call('/other')).toMatchObject({ status: 103 })
  expect(await seen()).toMatchObject({ seen: ['failure 103', 'statechange open'], breakers: [{ state: 'open', failures: 3 }] })
  // Open: the copy answers without reaching the upstream; a URL without one is refused.
  expect(await call('/data')).toEqual({ status: 200, source: 'fallback', body: '{"path":"/data"}' })
  expect(await call('/other')).toEqual({ error: 'CircuitOpenError' })
  expect(await seen()).toMatchObject({ seen: ['fallback '], breakers: [{ state: 'open' }] })
})

it('a WebSocket upgrade (101) is an answer: one upgrade, a success, the socket handed to the caller', async () => {
  const before = upgrades
  expect(await call('/socket', '/ws')).toEqual({ status: 101, socket: true })
  expect(upgrades).toBe(before + 1)
  const { seen: events, socket } = await seen()
  expect(events.filter((event: string) => event.startsWith('socket '))).toEqual(['socket success 101'])
  expect(socket).toEqual([{ state: 'closed', failures: 0 }])
})
