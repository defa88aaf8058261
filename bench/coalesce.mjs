// Coalescing (single-flight): 100 concurrent identical GETs over loopback with and without it, and
// what a call costs when it joins another (stub transport).
// Run alone: node bench/coalesce.mjs   (from bench/run.mjs: await coalesceBench()). Prints figures; asserts nothing.
import { dirname, resolve } from 'node:path'
import { hrtime } from 'node:process'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { fmtNs, loopbackUpstream, median, note, nsPerCall, table } from './harness.mjs'

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const ms = () => Number(hrtime.bigint()) / 1e6
const fmt = (x) => `${x.toFixed(1)} ms`
const BODY = Buffer.alloc(10 * 1024, 7)


/** `n` concurrent calls, each reading its whole body. */
const burst = (rf, url, n) => Promise.all(Array.from({ length: n }, () => rf(url).then((r) => r.arrayBuffer())))

// c1. a burst of identical GETs against a loopback upstream
async function loopback(core) {
  const CONCURRENT = 100
  const ROUNDS = 30
  const LATENCY = 20
  const up = await loopbackUpstream(() => ({ after: LATENCY, body: BODY }))
  const rows = []
  try {
    for (const [name, coalesce] of [['coalesce off (default)', false], ['coalesce: true', true]]) {
      // Generous bulkhead: the burst measures the upstream's share, not our queue.
      const rf = core.createResilientFetch({ fallback: false, retry: false, bulkhead: { maxConcurrent: 200 }, coalesce })
      await burst(rf, `${up.url}/warm`, CONCURRENT) // sockets, and the stage's chunk
      const before = up.requests
      const walls = []
      for (let i = 0; i < ROUNDS; i++) {
        const t0 = ms()
        await burst(rf, `${up.url}/me`, CONCURRENT)
        walls.push(ms() - t0)
      }
      const totals = rf.snapshot().totals
      rows.push([name, ((up.requests - before) / ROUNDS).toFixed(1), fmt(median(walls)), fmt(Math.max(...walls)), `${totals.coalesced ?? '-'}`])
    }
  } finally {
    await up.close()
  }
  table(`c1. ${CONCURRENT} concurrent identical GETs, loopback upstream answering after ${LATENCY} ms with 10 KB, every body read (${ROUNDS} bursts)`,
    ['variant', 'upstream req / burst', 'wall / burst (median)', 'wall / burst (max)', 'totals.coalesced'], rows)
}

// c2. per call over a stub transport: a call that leads (nothing to join) and calls that join
async function perCall(core) {
  const GROUP = 100
  // Answers on the next macrotask, so that a group's calls all start while the first is in flight.
  const fetch = () => new Promise((r) => setImmediate(() => r(new Response('ok'))))
  const variants = [
    ['coalesce off: 1 call', false, 1],
    ['coalesce on: 1 call (leads, nothing to join)', true, 1],
    [`coalesce off: ${GROUP} concurrent calls, per call`, false, GROUP],
    [`coalesce on: ${GROUP} concurrent calls (1 leads, ${GROUP - 1} join), per call`, true, GROUP],
  ]
  const fns = []
  for (const [, coalesce, n] of variants) {
    const rf = core.createResilientFetch({ fetch, fallback: false, coalesce })
    await burst(rf, 'https://bench.invalid/x', n) // loads the stage's chunk
    fns.push({ fn: () => burst(rf, 'https://bench.invalid/x', n) })
  }
  const measured = await nsPerCall(fns)
  table('c2. per call over a stub transport answering on the next macrotask (body read)', ['variant', 'wall/call', 'cpu/call'],
    variants.map(([name, , n], i) => [name, fmtNs(measured[i].ns / n), fmtNs(measured[i].cpuNs / n)]))
}

/** `core`: the package's main entry (default: the build in dist/). */
export async function coalesceBench(core) {
  core ??= await import(pathToFileURL(resolve(ROOT, 'dist/index.js')).href).catch(() => undefined)
  if (!core) return note('coalesce benches: skipped, dist/index.js is missing (npm run build)')
  const started = ms()
  await loopback(core)
  await perCall(core)
  note(`coalesce benches done in ${((ms() - started) / 1000).toFixed(1)} s`)
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await coalesceBench()
