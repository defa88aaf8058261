// A small timing loop: warm up, size a batch to ~BATCH_MS, time BATCHES batches, keep the median ns/call.
// Medians of batches shrug off GC pauses and the odd scheduler hiccup better than a mean.
import { hrtime } from 'node:process'

const BATCH_MS = 15
const BATCHES = 31
const WARMUP_MS = 150

/** ns per call of `fn` (awaited), the median over batches. `before(batchSize)` runs untimed ahead of each batch. */
export async function nsPerCall(fn, { before, batch, batches = BATCHES } = {}) {
  const warmEnd = hrtime.bigint() + BigInt(WARMUP_MS * 1e6)
  let warmCalls = 0
  while (hrtime.bigint() < warmEnd) {
    if (before && warmCalls % 256 === 0) await before(256)
    await fn()
    warmCalls++
  }
  if (!batch) {
    // Size the batch from a trial run so that timer resolution is noise, then keep it fixed.
    const trial = 256
    if (before) await before(trial)
    const t0 = hrtime.bigint()
    for (let i = 0; i < trial; i++) await fn()
    const perCall = Number(hrtime.bigint() - t0) / trial
    batch = Math.max(16, Math.min(200_000, Math.round((BATCH_MS * 1e6) / Math.max(perCall, 1))))
  }
  const samples = []
  for (let b = 0; b < batches; b++) {
    if (before) await before(batch)
    const t0 = hrtime.bigint()
    for (let i = 0; i < batch; i++) await fn()
    samples.push(Number(hrtime.bigint() - t0) / batch)
  }
  return { ns: median(samples), batch, batches, spread: spread(samples) }
}

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
