// What durableObjectShare costs and buys, in workerd (Miniflare), on loopback:
//   1. the hot path: per-request latency of the proxy with the BREAKERS binding vs the same proxy without,
//      in front of the same Node upstream (healthy, and 10% failures that are each reported to the object);
//   2. how long an open decision takes to reach another isolate: Worker A's requests fail until the fleet's
//      breaker opens; Worker B (another isolate, bound to the same Durable Object namespace) sends a request
//      every 10 ms, and we time A's last failure → B's first refusal, and count B's requests that still went out.
// Run alone: node bench/coordination.mjs [rounds]   (from bench/run.mjs: await coordinationBench())
import { createServer } from 'node:http'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Miniflare } from 'miniflare'
import { median, note, percentile, table } from './harness.mjs'
import { bundleProxy } from '../scripts/bundle-proxy.mjs'

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..')

export const COORDINATION_LATENCY_TITLE = 'h. durableObjectShare on the hot path: proxy with the BREAKERS binding vs without (workerd via Miniflare, loopback, 1 request in flight)'
export const COORDINATION_LATENCY_HEADERS = ['upstream', 'requests', 'p50 without', 'p50 with', 'p90 without', 'p90 with', 'with / without (p50)']
export const COORDINATION_SPREAD_TITLE = 'i. durableObjectShare: an open decision reaching another isolate (A fails until the fleet opens; B sends every 10 ms)'
export const COORDINATION_SPREAD_HEADERS = ["B's own requests", 'rounds', 'median', 'p90', 'max', "B's requests out after the open (median)"]

const fmtMs = (ms) => `${ms.toFixed(2)} ms`
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

/** An upstream on 127.0.0.1: /fail answers 500, /mixed fails one request in ten, anything else 200. */
async function startUpstream() {
  let n = 0
  const server = createServer((req, res) => {
    const fail = req.url.includes('/fail') || (req.url.includes('/mixed') && ++n % 10 === 0)
    res.writeHead(fail ? 500 : 200, { 'content-type': 'application/json' })
    res.end(fail ? '{"error":"down"}' : '{"ok":true}')
  })
  server.keepAliveTimeout = 60_000
  await new Promise((r) => server.listen(0, '127.0.0.1', r))
  return { url: `http://127.0.0.1:${server.address().port}`, close: () => new Promise((r) => server.close(r)) }
}

/**
 * Workers 'a' and 'b' share the BreakerCoordinator class defined in 'a' (two isolates, one fleet);
 * 'hot' (bound to the same class) and 'plain' (no binding) time the hot path, with a threshold the
 * 10% failures never reach. Each route prefix /rN/ is its own upstream origin, so its own key and object.
 */
function start(script, upstreams, threshold) {
  const routes = JSON.stringify(Object.fromEntries(upstreams.map((u, i) => [`/r${i}/`, [u.url]])))
  const worker = (name, failureThreshold, durableObjects) => ({
    name,
    modules: true,
    script,
    compatibilityDate: '2026-04-01',
    compatibilityFlags: ['enable_request_signal'],
    // MIN_REPORTERS 1: A's failures alone open the fleet, so the spread of one decision is measured (the default, 2, would wait for B's).
    bindings: { ROUTES: routes, UPSTREAM_URL: '', FAILURE_THRESHOLD: String(failureThreshold), OPEN_DURATION_MS: '60000', TIMEOUT_MS: '2000', MIN_REPORTERS: '1' },
    unsafeDirectSockets: [{ host: '127.0.0.1', port: 0 }],
    ...(durableObjects === undefined ? {} : { durableObjects }),
  })
  const shared = { BREAKERS: { className: 'BreakerCoordinator', scriptName: 'a', useSQLite: true } }
  return new Miniflare({
    host: '127.0.0.1',
    port: 0,
    workers: [
      worker('a', threshold, { BREAKERS: { className: 'BreakerCoordinator', useSQLite: true } }),
      worker('b', threshold, shared),
      worker('hot', 1_000_000, shared),
      worker('plain', 1_000_000),
    ],
  })
}

/** `refused`: the proxy did not call the upstream (a 503 circuit_open, or the last known good copy it serves instead). */
async function get(url) {
  const response = await fetch(url)
  const body = await response.text()
  return { status: response.status, body, refused: body.includes('circuit_open') || response.headers.has('x-resilient-source') }
}

/** ms per request, one in flight, alternating the two Workers in blocks so machine load hits both alike. */
async function latencies(urls, path, requests) {
  const out = { with: [], without: [] }
  const block = 50
  for (let i = 0; i < 100; i++) await Promise.all([get(urls.with + path), get(urls.without + path)])
  for (let done = 0; done < requests; done += block) {
    for (const name of done % (2 * block) === 0 ? ['with', 'without'] : ['without', 'with']) {
      for (let i = 0; i < block; i++) {
        const t0 = performance.now()
        await get(urls[name] + path)
        out[name].push(performance.now() - t0)
      }
    }
  }
  return { with: out.with.sort((a, b) => a - b), without: out.without.sort((a, b) => a - b) }
}

/** One spread round on its own key: returns ms from A's opening failure to B's first refusal, and B's requests sent meanwhile. */
async function spread(urls, prefix, bFails, threshold) {
  // B has traffic from the start (its key exists, its last answer from the object is fresh).
  const bPath = `${prefix}${bFails ? 'fail' : 'ok'}`
  await get(urls.b + bPath)
  // The open decision: A's last failure that reached the upstream (its next request is refused).
  let opened
  let last
  for (let i = 0; i < threshold * 4 && opened === undefined; i++) {
    const r = await get(urls.a + `${prefix}fail`)
    if (r.refused) opened = last
    else last = performance.now()
  }
  if (opened === undefined) throw new Error('A never opened')
  let sent = 0
  for (let i = 0; i < 1_000; i++) {
    const r = await get(urls.b + bPath)
    if (r.refused) return { ms: performance.now() - opened, sent }
    sent++
    await sleep(10)
  }
  throw new Error('B never refused within 10 s')
}

/**
 * Runs both measurements; returns { latency: rows, spread: rows } for the two tables and prints them
 * unless `print` is false.
 */
export async function coordinationBench({ rounds = 7, requests = 1_000, print = true } = {}) {
  const upstreams = []
  let mf
  try {
    for (let i = 0; i < 2 * rounds + 1; i++) upstreams.push(await startUpstream())
    const threshold = 5
    mf = start(await bundleProxy(), upstreams, threshold)
    await mf.ready
    const urls = {}
    for (const name of ['a', 'b', 'hot', 'plain']) urls[name] = String(await mf.unsafeGetDirectURL(name)).replace(/\/$/, '')

    const latencyRows = []
    // Healthy: successes are not sent (one refresh per 2 s). 10% failures: each failure is reported in ctx.waitUntil.
    for (const [label, path] of [
      ['healthy', '/r0/ok'],
      ['10% failures, each reported', '/r0/mixed'],
    ]) {
      const l = await latencies({ with: urls.hot, without: urls.plain }, path, requests)
      latencyRows.push([label, requests, fmtMs(median(l.without)), fmtMs(median(l.with)), fmtMs(percentile(l.without, 0.9)), fmtMs(percentile(l.with, 0.9)), `${(median(l.with) / median(l.without)).toFixed(2)}×`])
    }

    const spreadRows = []
    for (const bFails of [true, false]) {
      const samples = []
      const sent = []
      for (let r = 0; r < rounds; r++) {
        const { ms, sent: s } = await spread(urls, `/r${1 + (bFails ? 0 : rounds) + r}/`, bFails, threshold)
        samples.push(ms)
        sent.push(s)
      }
      samples.sort((a, b) => a - b)
      spreadRows.push([bFails ? 'fail too (its own failure report hears the open)' : 'succeed (hears it on the 2 s refresh)', rounds, fmtMs(median(samples)), fmtMs(percentile(samples, 0.9)), fmtMs(samples.at(-1)), String(median(sent))])
    }
    if (print) {
      table(COORDINATION_LATENCY_TITLE, COORDINATION_LATENCY_HEADERS, latencyRows)
      table(COORDINATION_SPREAD_TITLE, COORDINATION_SPREAD_HEADERS, spreadRows)
      note(`Without the binding B never refuses on A's account: it opens only after ${threshold} failures of its own.`)
    }
    return { latency: latencyRows, spread: spreadRows }
  } finally {
    await mf?.dispose()
    await Promise.all(upstreams.map((u) => u.close()))
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const rounds = Number(process.argv[2] ?? 7)
  await coordinationBench({ rounds: Number.isInteger(rounds) && rounds > 0 ? rounds : 7 })
}
