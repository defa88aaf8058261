#!/usr/bin/env node
// npm run load: a bounded load test on loopback. The proxy Worker and a bare pass-through Worker run in
// the same runtime (workerd through Miniflare) in front of the same Node upstream (demo/mock-upstream.mjs);
// a fixed number of requests at a fixed concurrency goes through each in turn, in many short rounds, and
// the throughput and latency are printed side by side. The ratio is the median of the rounds' ratios,
// each round timing both Workers back to back, so load from elsewhere on the machine skews a few rounds,
// not the result. Options (env): LOAD_REQUESTS (per Worker per round, default 500), LOAD_CONCURRENCY
// (default 16), LOAD_ROUNDS (default 10), LOAD_LATENCY_MS (upstream latency, default 0).
import { Miniflare } from 'miniflare'
import { readdirSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { startMockUpstream } from '../demo/mock-upstream.mjs'
import { bundleProxy } from './bundle-proxy.mjs'

const root = fileURLToPath(new URL('..', import.meta.url))
const REQUESTS = integer('LOAD_REQUESTS', 500, 1, 100_000)
const CONCURRENCY = integer('LOAD_CONCURRENCY', 16, 1, 256)
const ROUNDS = integer('LOAD_ROUNDS', 10, 1, 50)
const LATENCY = integer('LOAD_LATENCY_MS', 0, 0, 10_000)
const WARMUP = Math.min(200, REQUESTS)
const PATH = '/api/data'

// The baseline: what any Worker in front of the upstream does at the least.
const BARE = `export default {
  async fetch(request, env) {
    const url = new URL(request.url)
    return fetch(env.UPSTREAM_URL + url.pathname.slice(4) + url.search, { method: request.method, headers: request.headers })
  },
}`

function integer(name, fallback, min, max) {
  const raw = process.env[name]
  if (raw === undefined || raw === '') return fallback
  const n = Number(raw)
  if (!Number.isInteger(n) || n < min || n > max) {
    console.error(`load: ${name} must be an integer in ${min}..${max}, got ${JSON.stringify(raw)}`)
    process.exit(1)
  }
  return n
}

/** The workerd processes this script started (Linux /proc), to read their CPU time; [] elsewhere. */
function workerdPids() {
  try {
    return readdirSync('/proc')
      .filter((name) => /^\d+$/.test(name))
      .filter((pid) => {
        try {
          const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
          return stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')) === 'workerd' && Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === process.pid
        } catch {
          return false
        }
      })
  } catch {
    return []
  }
}

/** CPU time (user + system) of the processes, ms; clock ticks taken as 10 ms (USER_HZ 100). */
function cpuMs(pids) {
  let ticks = 0
  for (const pid of pids) {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    ticks += Number(fields[11]) + Number(fields[12])
  }
  return ticks * 10
}

async function start(script, upstream) {
  const before = new Set(workerdPids())
  const mf = worker(script, upstream)
  const url = String(await mf.ready).replace(/\/$/, '')
  return { mf, url, pids: workerdPids().filter((pid) => !before.has(pid)) }
}

function worker(script, upstream) {
  return new Miniflare({
    modules: true,
    script,
    host: '127.0.0.1',
    port: 0,
    compatibilityDate: '2026-04-01',
    bindings: { UPSTREAM_URL: upstream },
  })
}

/** Sends `count` requests with `concurrency` in flight; returns the elapsed ms and each request's latency. */
async function drive(base, count, concurrency) {
  const latencies = new Float64Array(count)
  let next = 0
  let failed = 0
  const started = performance.now()
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        const i = next++
        const t0 = performance.now()
        const response = await fetch(base + PATH)
        await response.arrayBuffer()
        latencies[i] = performance.now() - t0
        if (response.status !== 200 || response.headers.has('x-resilient-source')) failed++
      }
    }),
  )
  return { elapsed: performance.now() - started, latencies, failed }
}

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]
}

function summary(runs) {
  const all = Float64Array.from(runs.flatMap((r) => Array.from(r.latencies))).sort()
  const elapsed = runs.reduce((sum, r) => sum + r.elapsed, 0)
  return {
    requests: all.length,
    failed: runs.reduce((sum, r) => sum + r.failed, 0),
    throughput: (all.length / elapsed) * 1_000,
    p50: percentile(all, 50),
    p99: percentile(all, 99),
  }
}

const upstream = await startMockUpstream({ port: 0, latencyMs: LATENCY })
const workers = {}
try {
  workers.bare = await start(BARE, upstream.url)
  workers.proxy = await start(await bundleProxy(), upstream.url)
  const urls = { bare: workers.bare.url, proxy: workers.proxy.url }
  console.log(`upstream ${upstream.url} (latency ${LATENCY} ms) · bare Worker ${urls.bare} · proxy Worker ${urls.proxy}`)
  console.log(`${ROUNDS} rounds × ${REQUESTS} GET ${PATH} per Worker, ${CONCURRENCY} in flight, after ${WARMUP} warm-up requests each\n`)
  for (const name of ['bare', 'proxy']) await drive(urls[name], WARMUP, CONCURRENCY)
  const runs = { bare: [], proxy: [] }
  const measured = workers.bare.pids.length > 0 && workers.proxy.pids.length > 0
  const cpu = { bare: 0, proxy: 0 }
  for (let round = 0; round < ROUNDS; round++) {
    // Alternate the order, so neither Worker always runs on a warmer machine.
    const order = round % 2 === 0 ? ['bare', 'proxy'] : ['proxy', 'bare']
    for (const name of order) {
      const before = measured ? cpuMs(workers[name].pids) : 0
      runs[name].push(await drive(urls[name], REQUESTS, CONCURRENCY))
      if (measured) cpu[name] += cpuMs(workers[name].pids) - before
    }
  }
  const bare = summary(runs.bare)
  const proxy = summary(runs.proxy)
  const row = (label, b, p) => console.log(`${label.padEnd(20)}${b.padStart(14)}${p.padStart(14)}`)
  row('', 'bare Worker', 'proxy Worker')
  row('requests', String(bare.requests), String(proxy.requests))
  row('not fresh 200', String(bare.failed), String(proxy.failed))
  row('throughput/s', bare.throughput.toFixed(0), proxy.throughput.toFixed(0))
  row('p50 ms', bare.p50.toFixed(2), proxy.p50.toFixed(2))
  row('p99 ms', bare.p99.toFixed(2), proxy.p99.toFixed(2))
  if (measured) row('workerd CPU µs/req', ((cpu.bare / bare.requests) * 1_000).toFixed(0), ((cpu.proxy / proxy.requests) * 1_000).toFixed(0))
  const ratios = runs.proxy.map((p, i) => runs.bare[i].elapsed / p.elapsed).sort((a, b) => a - b)
  const middle = ratios.length / 2
  const median = ratios.length % 2 === 1 ? ratios[Math.floor(middle)] : (ratios[middle - 1] + ratios[middle]) / 2
  console.log(`\nproxy / bare throughput per round, sorted: ${ratios.map((r) => `${(r * 100).toFixed(0)}%`).join(' ')}`)
  console.log(`proxy / bare throughput: ${(median * 100).toFixed(1)}% (median of rounds; ${((proxy.throughput / bare.throughput) * 100).toFixed(1)}% overall; target >= 90%)`)
  if (measured) console.log(`workerd CPU per request, bare / proxy: ${((cpu.bare / bare.requests / (cpu.proxy / proxy.requests)) * 100).toFixed(1)}% (less sensitive to other load on the machine)`)
  const snapshot = await (await fetch(`${urls.proxy}/metrics.json`)).json()
  const breaker = snapshot.breakers[0]
  console.log(`proxy breaker ${breaker?.key}: ${breaker?.state}, totals ${JSON.stringify(snapshot.totals)}`)
} finally {
  await Promise.all(Object.values(workers).map((w) => w.mf.dispose()))
  await upstream.close()
}
