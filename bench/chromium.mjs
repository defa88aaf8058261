// Per-call overhead in headless Chromium over a stub transport (issue 11 item 6, issue 12 "Performance"):
// resilient-fetch with its defaults against cockatiel's like-for-like wrap() and against the floor that any
// deadline which really aborts pays; then what each optional stage (hedge, throttle, coalesce) costs when on and off.
// Run alone: node bench/chromium.mjs   (from bench/run.mjs: await chromiumBench())
import { loadavg } from 'node:os'
import { dirname, resolve } from 'node:path'
import { hrtime } from 'node:process'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { build } from 'esbuild'
import { findChromium, launchChromium } from '../scripts/chromium.mjs'
import { fmtNs, fmtPct, fmtRatio, median, note, table } from './harness.mjs'

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const CALLS = 10_000 // per variant and round: a plain sequential loop
const ROUNDS = 15
const WARMUP_CALLS = 10_000
const BUDGET_MS = 65_000 // the whole file stays well under 90 s: rounds stop early when time runs out

// src bundled by esbuild with tsup's target, so the page runs what dist ships; cockatiel from node_modules.
const PAGE_ENTRY = `
export { createResilientFetch } from './src/index.ts'
export { wrap, retry, circuitBreaker, bulkhead, timeout, handleAll, ConsecutiveBreaker, ExponentialBackoff, TimeoutStrategy } from 'cockatiel'
`

async function bundlePage() {
  const result = await build({
    stdin: { contents: PAGE_ENTRY, resolveDir: ROOT, sourcefile: 'chromium-bench-page.js', loader: 'js' },
    bundle: true,
    format: 'iife',
    globalName: 'benchLib',
    platform: 'browser',
    target: 'es2022',
    write: false,
    logLevel: 'error',
  })
  return result.outputFiles[0].text
}

/**
 * Runs in the page: builds the one variant this page times, a () => Promise over the same stub transport
 * as every other page's. The stub answers with one preallocated body-less Response (nothing to read twice)
 * and honours the signal.
 */
function setUpVariant(name) {
  const lib = globalThis.benchLib
  // Counts the host timers each variant arms and the calls it makes: what a deadline costs depends on it.
  const hostSetTimeout = globalThis.setTimeout
  globalThis.timersArmed = 0
  globalThis.callsMade = 0
  globalThis.setTimeout = (...args) => {
    globalThis.timersArmed++
    return hostSetTimeout(...args)
  }
  const url = 'https://bench.invalid/items/1'
  const response = new Response(null)
  const stub = async (_input, init) => {
    init?.signal?.throwIfAborted()
    return response
  }
  const ours = (options) => {
    const rf = lib.createResilientFetch({ fetch: stub, fallback: false, ...options })
    globalThis.instances.push(rf)
    return () => rf(url)
  }
  const cockatiel = name === 'cockatiel' && lib.wrap(
    lib.retry(lib.handleAll, { maxAttempts: 2, backoff: new lib.ExponentialBackoff() }),
    lib.circuitBreaker(lib.handleAll, { halfOpenAfter: 30_000, breaker: new lib.ConsecutiveBreaker(5) }),
    lib.bulkhead(50, 100),
    lib.timeout(10_000, lib.TimeoutStrategy.Cooperative),
  )
  globalThis.instances = []
  const variants = {
    bare: () => stub,
    defaults: () => ours({}),
    cockatiel: () => () => cockatiel.execute(({ signal }) => stub(url, { signal })),
    floor: () => async () => {
      const controller = new AbortController()
      const timer = setTimeout(() => controller.abort(), 10_000)
      try {
        return await stub(url, { signal: controller.signal })
      } finally {
        clearTimeout(timer)
      }
    },
    hedgeOff: () => ours({ hedge: false }),
    hedgeOn: () => ours({ hedge: {} }),
    throttleOff: () => ours({ throttle: false }),
    throttleOn: () => ours({ throttle: {} }),
    coalesceOff: () => ours({ coalesce: false }),
    coalesceOn: () => ours({ coalesce: true }),
  }
  globalThis.variant = variants[name]()
}

/** Runs in the page: `calls` sequential awaited calls of the page's variant; ns per call. */
async function runBlock(calls) {
  const fn = globalThis.variant
  const t0 = performance.now()
  for (let i = 0; i < calls; i++) await fn()
  const ns = ((performance.now() - t0) * 1e6) / calls
  globalThis.callsMade += calls
  return ns
}

/** Runs in the page: host timers (setTimeout) armed and calls made so far. */
const timersAndCalls = () => [globalThis.timersArmed, globalThis.callsMade]

/** Runs in the page: hedges started, calls throttled and coalesced, failures (each should stay 0). */
function stageTotals() {
  const totals = globalThis.instances[0]?.snapshot().totals ?? {}
  return [totals.hedges ?? 0, totals.throttled ?? 0, totals.coalesced ?? 0, totals.failures ?? 0]
}

async function summedTotals(pages) {
  const all = await Promise.all(Object.values(pages).map((page) => page.evaluate(stageTotals)))
  const [hedges, throttled, coalesced, failures] = [0, 1, 2, 3].map((i) => all.reduce((n, t) => n + t[i], 0))
  return { hedges, throttled, coalesced, failures }
}

// One page per variant, so that no variant's calls shape the JIT feedback another one runs with.
async function openPage(browser, code, name) {
  const page = await browser.newPage()
  await page.goto('about:blank')
  await page.addScriptTag({ content: code })
  await page.evaluate(setUpVariant, name)
  return page
}

// Each round visits every variant once, starting one further along, so drift and load spread evenly.
async function measure(pages, names, deadline) {
  for (const name of names) await pages[name].evaluate(runBlock, WARMUP_CALLS)
  const rounds = names.map(() => [])
  for (let round = 0; round < ROUNDS && (round < 3 || Date.now() < deadline); round++) {
    for (let k = 0; k < names.length; k++) {
      const v = (k + round) % names.length
      rounds[v].push(await pages[names[v]].evaluate(runBlock, CALLS))
    }
  }
  return rounds
}

const spread = (values) => {
  const sorted = [...values].sort((a, b) => a - b)
  const at = (p) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]
  return (at(0.75) - at(0.25)) / 2 / median(sorted)
}

// Ratio of two overheads over the bare stub: of the medians, round by round (the rounds ran side by side),
// and of the best rounds (the least disturbed by other work on the machine).
function overheadRatio(rounds, [bare, top, bottom]) {
  const ratio = (of) => (of(rounds[top]) - of(rounds[bare])) / (of(rounds[bottom]) - of(rounds[bare]))
  const perRound = rounds[bare].map((b, r) => (rounds[top][r] - b) / (rounds[bottom][r] - b)).sort((x, y) => x - y)
  return `${fmtRatio(ratio(median))} of medians (per round: median ${fmtRatio(median(perRound))}, ${fmtRatio(perRound[0])}–${fmtRatio(perRound.at(-1))}; best rounds ${fmtRatio(ratio(best))})`
}

const best = (values) => Math.min(...values)
const signed = (ns) => `${ns >= 0 ? '+' : '-'}${fmtNs(Math.abs(ns))}`

function overheadTable(title, labels, rounds, base) {
  const medians = rounds.map(median)
  const bests = rounds.map(best)
  table(title, ['variant', 'per call (median)', 'spread', `overhead vs ${labels[base]}`, 'best round', 'overhead'], labels.map((label, v) => [
    label,
    fmtNs(medians[v]),
    fmtPct(spread(rounds[v])),
    v === base ? '-' : signed(medians[v] - medians[base]),
    fmtNs(bests[v]),
    v === base ? '-' : signed(bests[v] - bests[base]),
  ]))
}

function peersTable(rounds) {
  const labels = [
    'bare stub',
    'resilient-fetch (defaults, fallback off)',
    'cockatiel wrap(retry, breaker, bulkhead, timeout Cooperative)',
    'floor: AbortController + setTimeout/clearTimeout',
  ]
  overheadTable(`h. per call in headless Chromium over a stub transport (async () => preallocated body-less Response, honours the signal)`, labels, rounds, 0)
  note(`ours / cockatiel overhead: ${overheadRatio(rounds, [0, 1, 2])}   (target <= 0.40×)`)
  note(`ours / floor overhead:     ${overheadRatio(rounds, [0, 1, 3])}   (target <= 1.5×)`)
}

function stagesTable(rounds, totals) {
  const labels = ['defaults', 'hedge: false', 'hedge: {} (on, delay p95)', 'throttle: false', 'throttle: {} (on)', 'coalesce: false', 'coalesce: true (on)']
  overheadTable('i. per call of each optional stage, on and off (off: the default), in headless Chromium (same stub; fallback off in every row)', labels, rounds, 0)
  note(`over every instance: ${totals.hedges} hedges started, ${totals.throttled} throttled, ${totals.coalesced} coalesced, ${totals.failures} failures (sequential calls to a healthy stub: each should be 0, so the rows price the stage's bookkeeping)`)
  note(`the "false" rows build the same chain as defaults (every stage is off by default): their gaps to it are this run's noise`)
}

/** Prints tables h (ours vs cockatiel vs the floor) and i (each optional stage on and off). */
export async function chromiumBench() {
  const started = hrtime.bigint()
  const deadline = Date.now() + BUDGET_MS
  const [code, { source }] = await Promise.all([bundlePage(), findChromium()])
  const browser = await launchChromium()
  try {
    const pages = {}
    const peerNames = ['bare', 'defaults', 'cockatiel', 'floor']
    const stageNames = ['defaults', 'hedgeOff', 'hedgeOn', 'throttleOff', 'throttleOn', 'coalesceOff', 'coalesceOn']
    for (const name of peerNames) pages[name] = await openPage(browser, code, name)
    const peers = await measure(pages, peerNames, deadline - BUDGET_MS * 0.6)
    peersTable(peers)
    const timers = await Promise.all(peerNames.map((name) => pages[name].evaluate(timersAndCalls)))
    note(`host timers (setTimeout) armed: ${peerNames.map((name, v) => `${name} ${timers[v][0].toLocaleString('en-US')} in ${timers[v][1].toLocaleString('en-US')} calls`).join(', ')}`)
    note(`  (in browsers an instance's attempt deadlines share one host timer, src/timers.ts: each attempt still gets its AbortController and its own deadline)`)
    for (const name of ['bare', 'cockatiel', 'floor']) await pages[name].close()
    for (const name of stageNames) pages[name] ??= await openPage(browser, code, name)
    const stages = await measure(pages, stageNames, deadline)
    stagesTable(stages, await summedTotals(Object.fromEntries(stageNames.map((name) => [name, pages[name]]))))
    note(`loop: each variant alone in its own page (about:blank), a plain sequential \`for (i < ${CALLS.toLocaleString('en-US')}) await call()\` timed with performance.now(), no forced GC;`)
    note(`      ${WARMUP_CALLS.toLocaleString('en-US')} warm-up calls per variant, then h: ${peers[0].length} rounds, i: ${stages[0].length} rounds, each visiting every variant in a rotated order; figures are medians of rounds`)
    note(`Chromium ${browser.version()} (${source}); src bundled by esbuild (target es2022, as dist); ${(Number(hrtime.bigint() - started) / 1e9).toFixed(1)} s · load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`)
  } finally {
    await browser.close()
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await chromiumBench()
