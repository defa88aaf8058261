// A small timing loop: warm up, size a batch to ~BATCH_MS, time BATCHES batches, keep the median ns/call.
// Medians of batches shrug off GC pauses and the odd scheduler hiccup better than a mean.
import { createServer } from 'node:http'
import { cpuUsage, hrtime } from 'node:process'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'

const BATCH_MS = 15
const ROUNDS = 5
const BATCHES_PER_ROUND = 7
const WARMUP_MS = 150

// gc() without asking for `node --expose-gc` on the command line.
setFlagsFromString('--expose-gc')
export const gc = runInNewContext('gc')

/**
 * ns per call of each variant's `fn` (awaited): the median over batches, wall clock and this process's
 * CPU time (the steadier figure when other work shares the machine). The variants take turns in
 * ROUNDS blocks of batches, in a rotating order, so that load from elsewhere on the machine hits them
 * alike; a full GC before each block keeps one variant's garbage from being collected on another's time.
 * `before(batchSize)` runs untimed ahead of each batch; `batch` fixes the batch size.
 */
export async function nsPerCall(variants) {
  const state = []
  for (const { fn, before, batch } of variants) {
    const warmEnd = hrtime.bigint() + BigInt(WARMUP_MS * 1e6)
    for (let i = 0; hrtime.bigint() < warmEnd; i++) {
      if (before && i % 256 === 0) await before(256)
      await fn()
    }
    state.push({ batch: batch ?? (await batchSize(fn, before)), samples: [], cpu: [] })
  }
  for (let round = 0; round < ROUNDS; round++) {
    for (let k = 0; k < variants.length; k++) {
      const v = (k + round) % variants.length
      const { fn, before } = variants[v]
      const { batch, samples, cpu } = state[v]
      gc()
      for (let b = 0; b < BATCHES_PER_ROUND; b++) {
        if (before) await before(batch)
        const c0 = cpuUsage()
        const t0 = hrtime.bigint()
        for (let i = 0; i < batch; i++) await fn()
        samples.push(Number(hrtime.bigint() - t0) / batch)
        cpu.push(cpuNs(cpuUsage(c0)) / batch)
      }
    }
  }
  return state.map(({ batch, samples, cpu }) => ({ ns: median(samples), cpuNs: median(cpu), batch, batches: samples.length, spread: spread(samples) }))
}

// Sized from a trial run so that timer resolution is noise, then kept fixed.
async function batchSize(fn, before) {
  const trial = 256
  if (before) await before(trial)
  const t0 = hrtime.bigint()
  for (let i = 0; i < trial; i++) await fn()
  const perCall = Number(hrtime.bigint() - t0) / trial
  return Math.max(16, Math.min(200_000, Math.round((BATCH_MS * 1e6) / Math.max(perCall, 1))))
}

/** CPU time of this process (all its threads, GC helpers included) in a cpuUsage() delta, ns. */
export const cpuNs = (usage) => (usage.user + usage.system) * 1e3

export function median(values) {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}

export function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]
}

// Interquartile range relative to the median, as ±%: how much to trust the figure.
function spread(values) {
  const sorted = [...values].sort((a, b) => a - b)
  const q1 = percentile(sorted, 0.25)
  const q3 = percentile(sorted, 0.75)
  return (q3 - q1) / 2 / median(sorted)
}

export const fmtNs = (ns) => (ns >= 1e6 ? `${(ns / 1e6).toFixed(2)} ms` : ns >= 1e4 ? `${(ns / 1e3).toFixed(1)} µs` : `${Math.round(ns)} ns`)
export const fmtPct = (x) => `±${(x * 100).toFixed(1)}%`
export const fmtRatio = (x) => (Number.isFinite(x) ? `${x.toFixed(2)}×` : '-')

/** Prints rows as a plain table: first column left-aligned, the others right-aligned. */
export function table(title, headers, rows) {
  const cells = [headers, ...rows].map((row) => row.map((c) => String(c ?? '')))
  const widths = headers.map((_, i) => Math.max(...cells.map((row) => [...row[i]].length)))
  const pad = (s, i) => (i === 0 ? s + ' '.repeat(widths[i] - [...s].length) : ' '.repeat(widths[i] - [...s].length) + s)
  console.log(`\n${title}`)
  cells.forEach((row, r) => {
    console.log(`  ${row.map(pad).join('   ')}`)
    if (r === 0) console.log(`  ${widths.map((w) => '-'.repeat(w)).join('   ')}`)
  })
}

export function note(text) {
  console.log(`  ${text}`)
}

const OK = Buffer.from('ok')

/**
 * An in-process loopback upstream whose `answer()` picks each response: { after (ms), status, body }.
 * Counts requests; `answer` may be replaced while it runs; `close()` drops every connection.
 */
export async function loopbackUpstream(answer) {
  const state = { requests: 0, answer }
  const server = createServer((req, res) => {
    state.requests++
    req.resume()
    const { after, status = 200, body = OK } = state.answer()
    const headers = { 'content-type': 'application/octet-stream', 'content-length': body.length }
    const timer = setTimeout(() => res.writeHead(status, headers).end(body), after)
    res.on('close', () => clearTimeout(timer))
  })
  server.keepAliveTimeout = 60_000
  await new Promise((r) => server.listen(0, '127.0.0.1', r))
  state.url = `http://127.0.0.1:${server.address().port}`
  state.close = () => {
    server.closeAllConnections()
    return new Promise((r) => server.close(r))
  }
  return state
}
