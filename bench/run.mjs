// npm run bench: side-by-side tables of resilient-fetch against the bare transport, cockatiel 3 and opossum 9.
// Prints figures only; nothing here asserts a timing. Run on an otherwise idle machine.
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { existsSync } from 'node:fs'
import { cpus } from 'node:os'
import { dirname, resolve } from 'node:path'
import { hrtime } from 'node:process'
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
import { fmtNs, fmtPct, fmtRatio, median, note, nsPerCall, percentile, table } from './harness.mjs'

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const dist = (file) => pathToFileURL(resolve(ROOT, 'dist', file)).href
const URL_ = 'https://bench.invalid/items/1'
const KEY = new URL(URL_).origin
const noop = () => {}

const core = existsSync(resolve(ROOT, 'dist/index.js')) ? await import(dist('index.js')) : undefined
const stubResponse = new Response(null)
const stub = async () => stubResponse

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
  ].filter(Boolean)
  const results = []
  for (const [name, fn] of variants) results.push([name, await nsPerCall(fn)])
  opossum.shutdown()
  const bare = results[0][1].ns
  table('a. ns per call over a stub transport (async () => preallocated Response)', ['variant', 'ns/call', 'spread', 'overhead over bare', 'batch × n'],
    results.map(([name, r], i) => [name, fmtNs(r.ns), fmtPct(r.spread), i === 0 ? '-' : fmtNs(r.ns - bare), `${r.batch} × ${r.batches}`]))
  const overhead = (name) => results.find(([n]) => n.startsWith(name))?.[1].ns - bare
  if (core) note(`ours / cockatiel overhead: ${fmtRatio(overhead('resilient-fetch') / overhead('cockatiel'))}   (target <= 0.33×)`)
  else missingCore('resilient-fetch row')
}

// b. a rejection while the breaker is open
async function openRejection() {
  const rows = []
  if (core) {
    const rf = core.createResilientFetch({ fetch: stub, fallback: false })
    await rf(URL_)
    rf.breaker(KEY).open()
    let name = ''
    await rf(URL_).catch((error) => (name = error.name))
    rows.push([`resilient-fetch rf(), forced open (rejects ${name})`, await nsPerCall(() => rf(URL_).catch(noop))])
  } else missingCore('resilient-fetch row')

  // cockatiel's breaker alone: inside wrap(), its retry(handleAll) would retry the rejection with a backoff.
  const breaker = circuitBreaker(handleAll, { halfOpenAfter: 600_000, breaker: new ConsecutiveBreaker(1) })
  await breaker.execute(() => Promise.reject(new Error('down'))).catch(noop)
  rows.push([`cockatiel circuitBreaker().execute(), ${breaker.state === 1 ? 'open' : `state ${breaker.state}`}`, await nsPerCall(() => breaker.execute(stub).catch(noop))])

  const opossum = new CircuitBreaker(stub, { timeout: 10_000, resetTimeout: 600_000 })
  opossum.open()
  rows.push([`opossum fire(), ${opossum.opened ? 'open' : 'closed'}`, await nsPerCall(() => opossum.fire(URL_).catch(noop))])
  opossum.shutdown()
  table('b. a rejection while open (target < 2 µs for ours)', ['variant', 'ns/call', 'spread'], rows.map(([n, r]) => [n, fmtNs(r.ns), fmtPct(r.spread)]))
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
  const r10 = await nsPerCall(() => small(URL_), { before: refill, batch })
  const r100k = await nsPerCall(() => large(URL_), { batch })
  table('c. recording a success into a 60 s time window (breaker only; retry, timeout, bulkhead off)', ['calls already in the window', 'ns/call', 'spread'], [
    [`10 (+ up to ${batch} during the batch)`, fmtNs(r10.ns), fmtPct(r10.spread)],
    [`${heldLarge} at start, ${large.snapshot().breakers[0]?.calls} at end`, fmtNs(r100k.ns), fmtPct(r100k.spread)],
  ])
  note(`100 000 / 10: ${fmtRatio(r100k.ns / r10.ns)}   (target: the same, ~1.00×)`)
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
    const seq = variants.map(() => ({ rounds: [], latencies: [] }))
    const par = variants.map(() => ({ rounds: [] }))
    for (let round = 0; round < ROUNDS; round++) {
      // Rotate the order each round so that drift (thermal, GC, the server warming) spreads evenly.
      for (let k = 0; k < variants.length; k++) {
        const v = (k + round) % variants.length
        const fn = variants[v][1]
        const t0 = hrtime.bigint()
        for (let i = 0; i < SEQ; i++) {
          const s = hrtime.bigint()
          await call(fn)
          seq[v].latencies.push(Number(hrtime.bigint() - s))
        }
        seq[v].rounds.push(Number(hrtime.bigint() - t0) / SEQ)
      }
      for (let k = 0; k < variants.length; k++) {
        const v = (k + round) % variants.length
        const fn = variants[v][1]
        let left = PAR
        const worker = async () => {
          while (left-- > 0) await call(fn)
        }
        const t0 = hrtime.bigint()
        await Promise.all(Array.from({ length: CONC }, worker))
        par[v].rounds.push(PAR / (Number(hrtime.bigint() - t0) / 1e9))
      }
    }
    const bounded = 1
    const seqMean = seq.map((s) => median(s.rounds))
    const rps = par.map((p) => median(p.rounds))
    table(`d. loopback HTTP/1.1 keep-alive, server in another process (${ROUNDS} × ${SEQ} sequential, ${ROUNDS} × ${PAR} with ${CONC} in flight, per variant; body read)`,
      ['variant', 'seq µs/req', 'p50', 'p99', 'vs bounded', `${CONC} concurrent req/s`, 'vs bounded'],
      variants.map(([name], v) => {
        const sorted = seq[v].latencies.sort((a, b) => a - b)
        return [name, (seqMean[v] / 1e3).toFixed(1), fmtNs(percentile(sorted, 0.5)), fmtNs(percentile(sorted, 0.99)),
          fmtRatio(seqMean[v] / seqMean[bounded]), Math.round(rps[v]).toLocaleString('en-US'), fmtRatio(rps[v] / rps[bounded])]
      }))
    if (rf) {
      note(`ours vs bounded fetch: sequential time ${(100 * (seqMean[2] / seqMean[bounded] - 1)).toFixed(1)}%, concurrent throughput ${(100 * (rps[2] / rps[bounded] - 1)).toFixed(1)}%   (target: within 5%)`)
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
  const rows = []

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
      if (res && core.resilienceInfo(res)?.source === 'fallback') {
        rows.push([`serve from ${label} (network error → fallback)`, await nsPerCall(read(rf))])
        return
      }
      await new Promise((r) => setTimeout(r, 10))
    }
    note(`serve from ${label}: no fallback copy was served, skipped`)
  }
  await serving('memory', 'memory')
  if (existsSync(resolve(ROOT, 'dist/idb.js'))) {
    await import('fake-indexeddb/auto')
    const { idbStore } = await import(dist('idb.js'))
    await serving('idb (fake-indexeddb)', idbStore({ dbName: 'bench' }))
  } else note('idb: skipped, dist/idb.js is missing')

  const off = core.createResilientFetch({ fetch: fresh, fallback: false })
  const on = core.createResilientFetch({ fetch: fresh, fallback: { store: 'memory' } })
  const rOff = await nsPerCall(read(off))
  const rOn = await nsPerCall(read(on))
  rows.push(['network 200, fallback off', rOff], ['network 200, fallback on (memory: store a copy)', rOn])
  table(`e. the fallback stage, ${bytes.byteLength} B JSON body, read with arrayBuffer()`, ['variant', 'ns/call', 'spread'], rows.map(([n, r]) => [n, fmtNs(r.ns), fmtPct(r.spread)]))
  note(`storing costs the caller ${fmtNs(rOn.ns - rOff.ns)} per call (${fmtRatio(rOn.ns / rOff.ns)} of fallback off)`)
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
    rows.push([name, `${size.min} B`, `${size.gzip} B`, kb(size.gzip), size.nodeImports.map((i) => i.path).join(' ') || '-'])
  }
  table('f. browser bundle, minified + tree-shaken (esbuild), gzip -9', ['import', 'min', 'min+gzip', '', 'Node built-ins'], rows)
  if (!core) missingCore('resilient-fetch row')
}

console.log(`resilient-fetch bench · node ${process.version} · ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'} · ${new Date().toISOString()}`)
const started = hrtime.bigint()
await pipelineOverhead()
await openRejection()
await windowRecording()
await loopback()
await fallbackStage()
await sizes()
console.log(`\ndone in ${(Number(hrtime.bigint() - started) / 1e9).toFixed(1)} s`)
