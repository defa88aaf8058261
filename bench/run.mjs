// npm run bench: side-by-side tables of resilient-fetch against the bare transport, cockatiel 3 and opossum 9.
// Prints figures only; nothing here asserts a timing. Run on an otherwise idle machine.
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { existsSync } from 'node:fs'
import { cpus, loadavg } from 'node:os'
import { dirname, resolve } from 'node:path'
import { cpuUsage, hrtime } from 'node:process'
import { fileURLToPath, pathToFileURL } from 'node:url'
import {
  bulkhead,
  circuitBreaker,
  ConsecutiveBreaker,
  ExponentialBackoff,
  handleAll,
  retry,
  timeout,
  TimeoutStrategy,
  wrap,
} from 'cockatiel'
import CircuitBreaker from 'opossum'
import { kb, minGzipSize } from '../scripts/check-browser-bundle.mjs'
import { shareTabsBench } from './share-tabs.mjs'
import { coordinationBench } from './coordination.mjs'
import { tailBench } from './tail.mjs'
import { coalesceBench } from './coalesce.mjs'
import { chromiumBench } from './chromium.mjs'
import { cpuNs, fmtNs, fmtPct, fmtRatio, gc, median, note, nsPerCall, percentile, table } from './harness.mjs'

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const dist = (file) => pathToFileURL(resolve(ROOT, 'dist', file)).href
const URL_ = 'https://bench.invalid/items/1'
const KEY = new URL(URL_).origin
const noop = () => {}

const core = existsSync(resolve(ROOT, 'dist/index.js')) ? await import(dist('index.js')) : undefined
const stubResponse = new Response(null)
const stub = async () => stubResponse

// One row per variant: wall clock and CPU time per call, then any extra columns.
function timingTable(title, names, measured, extra = { headers: [], row: () => [] }) {
  table(title, ['variant', 'wall/call', 'spread', 'cpu/call', ...extra.headers],
    names.map((name, i) => [name, fmtNs(measured[i].ns), fmtPct(measured[i].spread), fmtNs(measured[i].cpuNs), ...extra.row(i)]))
}

function missingCore(section) {
  note(`${section}: skipped, dist/index.js is missing (npm run build)`)
}

// a. ns per call over a stub transport
async function pipelineOverhead() {
  const cockatiel = wrap(
    retry(handleAll, { maxAttempts: 2, backoff: new ExponentialBackoff() }),
    circuitBreaker(handleAll, { halfOpenAfter: 30_000, breaker: new ConsecutiveBreaker(5) }),
    bulkhead(50, 100),
    timeout(10_000, TimeoutStrategy.Aggressive),
  )
  const opossum = new CircuitBreaker(stub, { timeout: 10_000, resetTimeout: 30_000 })
  const variants = [
    ['bare transport', () => stub(URL_)],
    core && ['resilient-fetch (defaults, fallback off)', ((rf) => () => rf(URL_))(core.createResilientFetch({ fetch: stub, fallback: false }))],
    ['cockatiel wrap(retry, breaker, bulkhead, timeout)', () => cockatiel.execute(({ signal }) => stub(URL_, { signal }))],
    ['opossum fire()', () => opossum.fire(URL_)],
    // What any deadline that really aborts costs per call: a controller, a timer, its cancellation.
    ['reference: AbortController + setTimeout/clearTimeout', async () => {
      const controller = new AbortController()
      const timer = setTimeout(() => controller.abort(), 10_000)
      await stub(URL_, { signal: controller.signal })
      clearTimeout(timer)
    }],
  ].filter(Boolean)
  const measured = await nsPerCall(variants.map(([, fn]) => ({ fn })))
  opossum.shutdown()
  const [bare] = measured
  timingTable('a. per call over a stub transport (async () => preallocated Response)', variants.map(([name]) => name), measured, {
    headers: ['wall overhead', 'cpu overhead', 'batch × n'],
    row: (i) => (i === 0 ? ['-', '-'] : [fmtNs(measured[i].ns - bare.ns), fmtNs(measured[i].cpuNs - bare.cpuNs)]).concat(`${measured[i].batch} × ${measured[i].batches}`),
  })
  const find = (name) => measured[variants.findIndex(([n]) => n.startsWith(name))]
  if (core) {
    const ours = find('resilient-fetch')
    const theirs = find('cockatiel')
    note(`ours / cockatiel overhead: ${fmtRatio((ours.ns - bare.ns) / (theirs.ns - bare.ns))} wall, ${fmtRatio((ours.cpuNs - bare.cpuNs) / (theirs.cpuNs - bare.cpuNs))} cpu   (target <= 0.33×)`)
  } else missingCore('resilient-fetch row')
}

// b. a rejection while the breaker is open
async function openRejection() {
  const variants = []
  if (core) {
    const rf = core.createResilientFetch({ fetch: stub, fallback: false })
    await rf(URL_)
    rf.breaker(KEY).open()
    let name = ''
    await rf(URL_).catch((error) => (name = error.name))
    variants.push([`resilient-fetch rf(), forced open (rejects ${name})`, () => rf(URL_).catch(noop)])
  }

  // cockatiel's breaker alone: inside wrap(), its retry(handleAll) would retry the rejection with a backoff.
  const breaker = circuitBreaker(handleAll, { halfOpenAfter: 600_000, breaker: new ConsecutiveBreaker(1) })
  await breaker.execute(() => Promise.reject(new Error('down'))).catch(noop)
  variants.push([`cockatiel circuitBreaker().execute(), ${breaker.state === 1 ? 'open' : `state ${breaker.state}`}`, () => breaker.execute(stub).catch(noop)])

  const opossum = new CircuitBreaker(stub, { timeout: 10_000, resetTimeout: 600_000 })
  opossum.open()
  variants.push([`opossum fire(), ${opossum.opened ? 'open' : 'closed'}`, () => opossum.fire(URL_).catch(noop)])
  // The floor of any promise-based refusal: one async function that throws, caught by the caller.
  const refused = new Error('refused')
  const refuse = async () => {
    throw refused
  }
  variants.push(['reference: one async function throwing, caught', () => refuse().catch(noop)])
  const measured = await nsPerCall(variants.map(([, fn]) => ({ fn })))
  opossum.shutdown()
  timingTable('b. a rejection while open (target < 2 µs for ours)', variants.map(([n]) => n), measured)
  if (!core) missingCore('resilient-fetch row')
}

// c. recording into a time window holding 10 vs 100 000 calls
async function windowRecording() {
  if (!core) return missingCore('c. time window')
  const options = {
    fetch: stub,
    fallback: false,
    retry: false,
    timeout: false,
    bulkhead: false,
    breaker: { window: { type: 'time', duration: 60_000 }, failureThreshold: 1_000_000_000 },
  }
  const small = core.createResilientFetch(options)
  const large = core.createResilientFetch(options)
  for (let i = 0; i < 100_000; i++) await large(URL_)
  const heldLarge = large.snapshot().breakers[0]?.calls
  // close() forgets the window, so each timed batch starts from 10 calls held.
  const refill = async () => {
    small.breaker(KEY)?.close()
    for (let i = 0; i < 10; i++) await small(URL_)
  }
  await small(URL_)
  const batch = 256
  const [r10, r100k] = await nsPerCall([{ fn: () => small(URL_), before: refill, batch }, { fn: () => large(URL_), batch }])
  timingTable('c. recording a success into a 60 s time window (breaker only; retry, timeout, bulkhead off), by calls already in the window', [
    `10 (+ up to ${batch} during the batch)`,
    `${heldLarge} at start, ${large.snapshot().breakers[0]?.calls} at end`,
  ], [r10, r100k])
  note(`100 000 / 10: ${fmtRatio(r100k.ns / r10.ns)} wall, ${fmtRatio(r100k.cpuNs / r10.cpuNs)} cpu   (target: the same, ~1.00×)`)
}

// d. a loopback HTTP server in another process
async function loopback() {
  const server = spawn(process.execPath, [resolve(ROOT, 'bench/server.mjs')], { stdio: ['pipe', 'pipe', 'inherit'] })
  const killServer = () => server.kill()
  process.once('exit', killServer)
  try {
    const [chunk] = await once(server.stdout, 'data')
    const port = Number(String(chunk).trim())
    const url = `http://127.0.0.1:${port}/item`
    const rf = core?.createResilientFetch({ fallback: false })
    const variants = [
      ['fetch(url)', () => fetch(url)],
      ['fetch(url, { signal: AbortSignal.timeout(5000) })', () => fetch(url, { signal: AbortSignal.timeout(5000) })],
      rf && ['resilient-fetch rf(url) (defaults, fallback off)', () => rf(url)],
    ].filter(Boolean)
    const call = async (fn) => (await fn()).arrayBuffer()

    for (const [, fn] of variants) for (let i = 0; i < 300; i++) await call(fn) // warm-up: sockets, JIT

    const ROUNDS = 5
    const SEQ = 1000 // per round and variant: 5 000 sequential requests per variant
    const CONC = 16
    const PAR = 1000 // per round and variant: 5 000 requests, 16 in flight, per variant
    const seq = variants.map(() => ({ rounds: [], cpu: [], latencies: [] }))
    const par = variants.map(() => ({ rounds: [], cpu: [] }))
    for (let round = 0; round < ROUNDS; round++) {
      // Rotate the order each round so that drift (thermal, GC, the server warming) spreads evenly.
      for (let k = 0; k < variants.length; k++) {
        const v = (k + round) % variants.length
        const fn = variants[v][1]
        gc()
        const c0 = cpuUsage()
        const t0 = hrtime.bigint()
        for (let i = 0; i < SEQ; i++) {
          const s = hrtime.bigint()
          await call(fn)
          seq[v].latencies.push(Number(hrtime.bigint() - s))
        }
        seq[v].rounds.push(Number(hrtime.bigint() - t0) / SEQ)
        seq[v].cpu.push(cpuNs(cpuUsage(c0)) / SEQ)
      }
      for (let k = 0; k < variants.length; k++) {
        const v = (k + round) % variants.length
        const fn = variants[v][1]
        let left = PAR
        gc()
        const worker = async () => {
          while (left-- > 0) await call(fn)
        }
        const c0 = cpuUsage()
        const t0 = hrtime.bigint()
        await Promise.all(Array.from({ length: CONC }, worker))
        par[v].rounds.push(PAR / (Number(hrtime.bigint() - t0) / 1e9))
        par[v].cpu.push(cpuNs(cpuUsage(c0)) / PAR)
      }
    }
    const bounded = 1
    const seqMean = seq.map((s) => median(s.rounds))
    const seqCpu = seq.map((s) => median(s.cpu))
    const rps = par.map((p) => median(p.rounds))
    const parCpu = par.map((p) => median(p.cpu))
    table(`d. loopback HTTP/1.1 keep-alive, server in another process (${ROUNDS} × ${SEQ} sequential, ${ROUNDS} × ${PAR} with ${CONC} in flight, per variant; body read)`,
      ['variant', 'seq µs/req', 'p50', 'p99', 'vs bounded', 'cpu µs/req', 'vs bounded', `${CONC} in flight req/s`, 'vs bounded', 'cpu µs/req', 'vs bounded'],
      variants.map(([name], v) => {
        const sorted = seq[v].latencies.sort((a, b) => a - b)
        return [name, (seqMean[v] / 1e3).toFixed(1), fmtNs(percentile(sorted, 0.5)), fmtNs(percentile(sorted, 0.99)), fmtRatio(seqMean[v] / seqMean[bounded]),
          (seqCpu[v] / 1e3).toFixed(1), fmtRatio(seqCpu[v] / seqCpu[bounded]),
          Math.round(rps[v]).toLocaleString('en-US'), fmtRatio(rps[v] / rps[bounded]), (parCpu[v] / 1e3).toFixed(1), fmtRatio(parCpu[v] / parCpu[bounded])]
      }))
    note('cpu: this process only (the client), all its threads; the server runs in its own process')
    if (rf) {
      const pct = (x) => `${x >= 1 ? '+' : ''}${(100 * (x - 1)).toFixed(1)}%`
      note(`ours vs bounded fetch: sequential time ${pct(seqMean[2] / seqMean[bounded])}, cpu ${pct(seqCpu[2] / seqCpu[bounded])}; ${CONC} in flight throughput ${pct(rps[2] / rps[bounded])}, cpu ${pct(parCpu[2] / parCpu[bounded])}   (target: within 5%)`)
      const t = rf.snapshot().totals
      note(`ours, totals: ${t.requests} requests, ${t.successes} successes, ${t.failures} failures, ${t.rejected} rejected`)
    } else missingCore('resilient-fetch row')
  } finally {
    server.stdin.end()
    process.off('exit', killServer)
  }
}

// e. the fallback stage
async function fallbackStage() {
  if (!core) return missingCore('e. fallback')
  const json = JSON.stringify({ blob: 'x'.repeat(10_240 - 12) })
  const bytes = new TextEncoder().encode(json)
  const fresh = async () => new Response(bytes, { headers: { 'content-type': 'application/json' } })
  const read = (rf) => async () => (await rf(URL_)).arrayBuffer()

  const serving = async (label, store) => {
    let down = false
    const transport = async () => {
      if (down) throw new TypeError('fetch failed')
      return fresh()
    }
    const rf = core.createResilientFetch({ fetch: transport, retry: false, breaker: false, fallback: { store } })
    await (await rf(URL_)).arrayBuffer()
    down = true
    for (let i = 0; i < 50; i++) {
      // The copy is stored off the hot path: wait until it is there.
      const res = await rf(URL_).catch(() => undefined)
      if (res && core.resilienceInfo(res)?.source === 'fallback') return [`serve from ${label} (network error → fallback)`, read(rf)]
      await new Promise((r) => setTimeout(r, 10))
    }
    note(`serve from ${label}: no fallback copy was served, skipped`)
  }
  const variants = [['bare transport', async () => (await fresh()).arrayBuffer()]]
  variants.push(await serving('memory', 'memory'))
  if (existsSync(resolve(ROOT, 'dist/idb.js'))) {
    await import('fake-indexeddb/auto')
    const { idbStore } = await import(dist('idb.js'))
    variants.push(await serving('idb (fake-indexeddb)', idbStore({ dbName: 'bench' })))
  } else note('idb: skipped, dist/idb.js is missing')
  variants.push(['network 200, fallback off', read(core.createResilientFetch({ fetch: fresh, fallback: false }))])
  variants.push(['network 200, fallback on (memory: store a copy)', read(core.createResilientFetch({ fetch: fresh, fallback: { store: 'memory' } }))])
  const rows = variants.filter(Boolean)
  const measured = await nsPerCall(rows.map(([, fn]) => ({ fn })))
  timingTable(`e. the fallback stage, ${bytes.byteLength} B JSON body, read with arrayBuffer()`, rows.map(([n]) => n), measured)
  const m = (name) => measured[rows.findIndex(([n]) => n.startsWith(name))]
  const on = m('network 200, fallback on')
  const off = m('network 200, fallback off')
  note(`storing costs the caller ${fmtNs(on.ns - off.ns)} wall, ${fmtNs(on.cpuNs - off.cpuNs)} cpu per call (${fmtRatio(on.ns / off.ns)} of fallback off; the copy is written off the hot path, so this is its share of the thread)`)
}

// f. min+gzip for the browser
async function sizes() {
  const probes = [
    core && ["import { createResilientFetch } from 'resilient-fetch'", `export { createResilientFetch } from './dist/index.js'`],
    ["import ky from 'ky'", `import ky from 'ky'\nexport default ky`],
    ["cockatiel: wrap, retry, circuitBreaker, bulkhead, timeout, handleAll, ConsecutiveBreaker, ExponentialBackoff",
      `export { wrap, retry, circuitBreaker, bulkhead, timeout, handleAll, ConsecutiveBreaker, ExponentialBackoff } from 'cockatiel'`],
  ].filter(Boolean)
  const rows = []
  for (const [name, source] of probes) {
    const size = await minGzipSize(source, ROOT)
    const defaults = size.defaultsChunks.length > 0 ? `${size.defaultsGzip} B` : '-'
    const all = size.lazy.length > 0 ? `${size.allGzip} B` : '-'
    rows.push([name, `${size.min} B`, `${size.gzip} B`, kb(size.gzip), defaults, all, size.nodeImports.map((i) => i.path).join(' ') || '-'])
  }
  table('f. browser bundle, minified + tree-shaken + split (esbuild), gzip -9', ['import', 'min (up front)', 'min+gzip (up front)', '', 'in all, default options', 'every chunk', 'Node built-ins'], rows)
  note('"in all, default options": up front + what the defaults load on first use (the fallback chunk and the larger store chunk); "every chunk" adds the stages off by default (hedge, throttle, coalesce)')
  if (!core) missingCore('resilient-fetch row')
}

console.log(`resilient-fetch bench · node ${process.version} · ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'} · load average ${loadavg().map((l) => l.toFixed(2)).join(' ')} · ${new Date().toISOString()}`)
const started = hrtime.bigint()
await pipelineOverhead()
await openRejection()
await windowRecording()
await loopback()
await fallbackStage()
await sizes()
await shareTabsBench()
await coordinationBench()
await tailBench()
await coalesceBench()
await chromiumBench()
console.log(`\ndone in ${(Number(hrtime.bigint() - started) / 1e9).toFixed(1)} s · load average ${loadavg().map((l) => l.toFixed(2)).join(' ')} (other work on the machine skews every figure)`)
