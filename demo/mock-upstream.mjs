#!/usr/bin/env node
// The flaky downstream for the demo and the tests: GET /data answers JSON or 503 by its error
// rate, GET /control?error_rate=N&latency_ms=M changes it, GET /stats counts what it saw.
// Usage: node demo/mock-upstream.mjs [port]   (or PORT / UPSTREAM_PORT; default 8788, 0 = any)
import { createServer } from 'node:http'
import { pathToFileURL } from 'node:url'

/**
 * Starts the mock on 127.0.0.1. Resolves once it listens.
 * @param {{ port?: number, errorRate?: number, latencyMs?: number, random?: () => number }} [options]
 */
export function startMockUpstream(options = {}) {
  const state = { errorRate: options.errorRate ?? 0, latencyMs: options.latencyMs ?? 0 }
  const random = options.random ?? Math.random
  const stats = { requests: 0, data: 0, errors: 0, active: 0, maxActive: 0 }
  let served = 0

  const server = createServer((req, res) => {
    // Appended, not resolved: a path like //host/data is that path here, not another host's /data.
    const url = new URL(`http://127.0.0.1${req.url ?? '/'}`)
    stats.requests++
    if (url.pathname === '/control') return control(url, res)
    if (url.pathname === '/stats') return json(res, 200, { ...stats, errorRate: state.errorRate, latencyMs: state.latencyMs })
    if (url.pathname !== '/data' || (req.method !== 'GET' && req.method !== 'HEAD')) return json(res, 404, { error: 'not_found' })

    stats.data++
    stats.active++
    stats.maxActive = Math.max(stats.maxActive, stats.active)
    const failing = random() * 100 < state.errorRate
    const answer = () => {
      stats.active--
      if (failing) {
        stats.errors++
        return json(res, 503, { error: 'upstream unavailable' })
      }
      json(res, 200, { id: ++served, value: Math.round(random() * 1000), at: Date.now() })
    }
    if (state.latencyMs > 0) setTimeout(answer, state.latencyMs)
    else answer()
  })

  function control(url, res) {
    const rate = url.searchParams.get('error_rate')
    const latency = url.searchParams.get('latency_ms')
    if (rate !== null) {
      const n = Number(rate)
      if (rate === '' || !Number.isFinite(n) || n < 0 || n > 100) return json(res, 400, { error: `error_rate must be a number in 0..100, got ${JSON.stringify(rate)}` })
      state.errorRate = n
    }
    if (latency !== null) {
      const n = Number(latency)
      if (latency === '' || !Number.isInteger(n) || n < 0 || n > 60_000) return json(res, 400, { error: `latency_ms must be an integer in 0..60000, got ${JSON.stringify(latency)}` })
      state.latencyMs = n
    }
    if (url.searchParams.has('reset_stats')) Object.assign(stats, { requests: 0, data: 0, errors: 0, maxActive: stats.active })
    json(res, 200, { errorRate: state.errorRate, latencyMs: state.latencyMs })
  }

  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(options.port ?? 8788, '127.0.0.1', () => {
      const { port } = /** @type {import('node:net').AddressInfo} */ (server.address())
      resolve({
        port,
        url: `http://127.0.0.1:${port}`,
        stats,
        state,
        close: () => new Promise((done) => { server.closeAllConnections(); server.close(() => done(undefined)) }),
      })
    })
  })
}

function json(res, status, body) {
  const text = JSON.stringify(body)
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) })
  res.end(text)
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const raw = process.argv[2] ?? process.env.UPSTREAM_PORT ?? process.env.PORT ?? '8788'
  const port = Number(raw)
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`mock-upstream: port must be an integer in 0..65535, got ${JSON.stringify(raw)}`)
    process.exit(1)
  }
  const mock = await startMockUpstream({ port })
  console.log(`mock upstream on ${mock.url}  (GET /data, GET /control?error_rate=N&latency_ms=M, GET /stats)`)
  const stop = () => mock.close().then(() => process.exit(0))
  process.on('SIGINT', stop)
  process.on('SIGTERM', stop)
}
