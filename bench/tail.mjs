// Tail latency and overload: hedging against a slow tail, throttling in a brownout, priority under overload.
// Each against a loopback upstream in this process (its answers are timers, so it costs the loop little).
// Run alone: node bench/tail.mjs   (from bench/run.mjs: await tailBench()). Prints figures; asserts nothing.
import { dirname, resolve } from 'node:path'
import { hrtime } from 'node:process'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { fmtNs, loopbackUpstream, note, nsPerCall, percentile, table } from './harness.mjs'

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))
const ms = () => Number(hrtime.bigint()) / 1e6
const fmt = (x) => `${x.toFixed(1)} ms`


/** Runs `total` calls with `concurrency` in flight; returns each call's latency (ms) and outcome. */
async function closedLoop(total, concurrency, call) {
  const latencies = []
  let left = total
  const worker = async () => {
    while (left-- > 0) {
      const t0 = ms()
      await call()
      latencies.push(ms() - t0)
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker))
  return latencies.sort((a, b) => a - b)
}

const read = async (promise) => {
  try {
    const response = await promise
    await response.arrayBuffer()
    return response
  } catch (error) {
    return error
  }
}

// h0. what each stage costs a call when on (nothing fires: the stub answers at once), and when off
async function overhead(core) {
  const response = new Response(null)
  const fetch = async () => response
  const base = { fetch, fallback: false }
  const variants = [
    ['defaults (fallback off)', base],
    ['+ hedge { delay: 10_000 } (armed, never fires)', { ...base, hedge: { delay: 10_000 } }],
    ['+ hedge { delay: 10_000 }, a POST (not hedged)', { ...base, hedge: { delay: 10_000 } }, { method: 'POST' }],
    ['+ throttle {} (healthy: never sheds)', { ...base, throttle: {} }],
  ]
  const fns = []
  for (const [, options, init] of variants) {
    const rf = core.createResilientFetch(options)
    await rf('https://bench.invalid/x', init) // loads a lazy stage's chunk
    fns.push({ fn: () => rf('https://bench.invalid/x', init) })
  }
  const measured = await nsPerCall(fns)
  table('h0. per call over a stub transport, each tail stage on (nothing fires) vs off', ['variant', 'wall/call', 'cpu/call', 'vs defaults (cpu)'],
    variants.map(([name], i) => [name, fmtNs(measured[i].ns), fmtNs(measured[i].cpuNs), i === 0 ? '-' : `+${fmtNs(measured[i].cpuNs - measured[0].cpuNs)}`]))
}

// h1. hedging against a slow tail
async function hedging(core) {
  const CALLS = 600
  const CONCURRENCY = 8
  // 5% of answers take 500 ms; the rest 10-12 ms.
  const up = await loopbackUpstream(() => ({ after: Math.random() < 0.05 ? 500 : 10 + Math.random() * 2, status: 200 }))
  const rows = []
  try {
    for (const [name, hedge] of [['no hedging', false], ["hedge { delay: 'p95' } (defaults)", {}], ["hedge { delay: 'p90' }", { delay: 'p90' }]]) {
      const rf = core.createResilientFetch({ fallback: false, retry: false, hedge })
      // Warm-up: sockets, and the 20 samples a percentile delay needs.
      await closedLoop(100, CONCURRENCY, () => read(rf(`${up.url}/item`)))
      const before = up.requests
      const hedgesBefore = rf.snapshot().totals.hedges
      const latencies = await closedLoop(CALLS, CONCURRENCY, () => read(rf(`${up.url}/item`)))
      const requests = up.requests - before
      const p50 = percentile(latencies, 0.5)
      const p99 = percentile(latencies, 0.99)
      rows.push([name, fmt(p50), fmt(percentile(latencies, 0.9)), fmt(p99), `${(p99 / p50).toFixed(2)}×`, (requests / CALLS).toFixed(3), `${rf.snapshot().totals.hedges - hedgesBefore}`])
    }
  } finally {
    await up.close()
  }
  table(`h1. hedging: loopback upstream, 5% of answers take 500 ms, the rest 10-12 ms (${CALLS} calls, ${CONCURRENCY} in flight, after 100 warm-up calls)`,
    ['variant', 'p50', 'p90', 'p99', 'p99 / p50', 'upstream req / call', 'hedges'], rows)
  note('target: p99 within 2× p50, at most 10% extra upstream requests (1.100 per call)')
}

// h2. throttling in a brownout
async function brownout(core) {
  const RATE = 200 // calls per second, offered open-loop
  const PHASES = [['50% failing', 2_000, 0.5], ['100% failing', 2_000, 1], ['recovered', 3_000, 0]]
  const BUCKET = 250
  const breaker = { window: { type: 'time', duration: 2_000 }, failureThreshold: 5, openDuration: 500 }
  const throttle = { window: 1_000 }
  const variants = [
    ['breaker only', { breaker }],
    ['throttle only', { breaker: false, throttle }],
    ['breaker + throttle', { breaker, throttle }],
  ]
  const results = []
  for (const [name, options] of variants) {
    let failing = 0
    const up = await loopbackUpstream(() => ({ after: 2, status: Math.random() < failing ? 503 : 200 }))
    const rf = core.createResilientFetch({ fallback: false, ...options })
    const buckets = []
    const start = ms()
    const count = () => {
      const i = Math.floor((ms() - start) / BUCKET)
      buckets[i] = (buckets[i] ?? 0) + 1
    }
    const countingUp = up.answer
    up.answer = () => (count(), countingUp())
    const calls = []
    const phaseRows = []
    for (const [phase, duration, rate] of PHASES) {
      failing = rate
      const before = up.requests
      const t0 = ms()
      for (let sent = 0; ms() - t0 < duration; sent++) {
        calls.push(read(rf(`${up.url}/item`)))
        const due = t0 + ((sent + 1) * 1_000) / RATE
        await sleep(Math.max(0, due - ms()))
      }
      phaseRows.push([phase, ((up.requests - before) / (duration / 1_000)).toFixed(0)])
    }
    const answered = (await Promise.all(calls)).filter((r) => r instanceof Response && r.ok).length
    // Time to full traffic after recovery: the first bucket after it where the upstream sees >= 90% of the offered rate.
    const recoveredAt = (PHASES[0][1] + PHASES[1][1]) / BUCKET
    let full
    for (let i = recoveredAt; i < buckets.length; i++) {
      if ((buckets[i] ?? 0) >= 0.9 * RATE * (BUCKET / 1_000)) {
        full = (i - recoveredAt + 1) * BUCKET
        break
      }
    }
    const t = rf.snapshot().totals
    results.push({ name, phaseRows, full, totals: t, answered, offered: calls.length })
    await up.close()
  }
  table(`h2. throttling in a brownout: ${RATE} calls/s offered open-loop (retries on, limit 2), upstream ${PHASES.map(([p, d]) => `${p} for ${d / 1000} s`).join(', then ')}; breaker: 2 s time window, 5 failures, opens 500 ms; throttle: k 2, window 1 s`,
    ['variant', ...PHASES.map(([p]) => `upstream req/s, ${p}`), 'full traffic after recovery', 'calls answered 2xx', 'retries', 'throttled'],
    results.map(({ name, phaseRows, full, totals, answered, offered }) => [name, ...phaseRows.map(([, r]) => r), full === undefined ? `not within ${PHASES[2][1] / 1000} s` : `${full} ms`, `${answered} / ${offered}`, totals.retries, totals.throttled]))
  note(`offered: ${RATE} req/s; "full traffic": the first ${BUCKET} ms after recovery in which the upstream sees at least 90% of it`)
}

// h3. priority under overload
async function overload(core) {
  const LATENCY = 20
  const CAPACITY = 4 / (LATENCY / 1_000) // calls per second the bulkhead lets through
  const RATE = 4 * CAPACITY
  const DURATION = 2_000
  const HIGH_SHARE = 0.2
  const rows = []
  for (const [name, prioritized] of [['FIFO (no priority)', false], ['priority: 20% high, 80% low', true]]) {
    const up = await loopbackUpstream(() => ({ after: LATENCY, status: 200 }))
    const rf = core.createResilientFetch({ fallback: false, retry: false, breaker: false, bulkhead: { maxConcurrent: 4, maxQueue: 16 } })
    const high = []
    const calls = []
    const t0 = ms()
    for (let sent = 0; ms() - t0 < DURATION; sent++) {
      const isHigh = sent % Math.round(1 / HIGH_SHARE) === 0
      const priority = prioritized ? (isHigh ? 'high' : 'low') : 'normal'
      const started = ms()
      const done = read(rf(`${up.url}/item`, { resilience: { priority } })).then((r) => ({ ok: r instanceof Response, wait: ms() - started }))
      calls.push(done)
      if (isHigh) high.push(done)
      const due = t0 + ((sent + 1) * 1_000) / RATE
      await sleep(Math.max(0, due - ms()))
    }
    const all = await Promise.all(calls)
    const highs = await Promise.all(high)
    const served = highs.filter((h) => h.ok)
    const waits = served.map((h) => h.wait).sort((a, b) => a - b)
    rows.push([name, `${all.length}`, `${(100 * all.filter((c) => c.ok).length / all.length).toFixed(1)}%`, `${(100 * served.length / highs.length).toFixed(1)}%`, fmt(percentile(waits, 0.5)), fmt(percentile(waits, 0.99))])
    await up.close()
  }
  table(`h3. priority under overload: bulkhead 4 in flight + queue 16, upstream ${LATENCY} ms, ${RATE} calls/s offered for ${DURATION / 1000} s (4× capacity), every 5th call high`,
    ['variant', 'calls', 'all served', 'high served', 'high p50 (call)', 'high p99 (call)'], rows)
  note('"served": answered by the upstream; the rest were refused by the bulkhead (queue full, or displaced by a higher-priority arrival)')
}

export async function tailBench() {
  const dist = pathToFileURL(resolve(ROOT, 'dist/index.js')).href
  const core = await import(dist).catch(() => undefined)
  if (!core) return note('tail benches: skipped, dist/index.js is missing (npm run build)')
  const started = ms()
  await overhead(core)
  await hedging(core)
  await brownout(core)
  await overload(core)
  note(`tail benches done in ${((ms() - started) / 1000).toFixed(1)} s`)
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await tailBench()
