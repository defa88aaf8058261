/** Inline SVG sparkline: failure rate as a line, non-closed periods as colored bands behind it. */
import type { BreakerState } from '../../src/types'
import { HISTORY_SPAN, type Sample } from './history'

const WIDTH = 240
const HEIGHT = 40
/** The states drawn as a band. A state is written into markup: anything else a stream sends (`?events=` may name any) draws none. */
const BANDS: ReadonlySet<string> = new Set<BreakerState>(['open', 'half-open', 'forced-open', 'disabled'])

export function sparklineMarkup(samples: readonly Sample[], now: number): string {
  const start = now - HISTORY_SPAN
  const x = (at: number) => (((at - start) / HISTORY_SPAN) * WIDTH).toFixed(1)
  const y = (rate: number) => (HEIGHT - 2 - rate * (HEIGHT - 4)).toFixed(1)
  let bands = ''
  // One band per run of the same state: rects per sample would overlap into stripes.
  for (let i = 0; i < samples.length; i++) {
    const sample = samples[i]
    if (!BANDS.has(sample.state)) continue
    while (samples[i + 1]?.state === sample.state) i++
    const end = samples[i + 1]?.at ?? now
    const left = Number(x(sample.at))
    bands += `<rect class="band band-${sample.state}" x="${left}" y="0" width="${Math.max(1, Number(x(end)) - left).toFixed(1)}" height="${HEIGHT}"/>`
  }
  const lines = runsOfRates(samples)
    .filter((run) => run.length > 1)
    .map((run) => `<polyline class="rate" points="${run.map((s) => `${x(s.at)},${y(s.failureRate!)}`).join(' ')}"/>`)
    .join('')
  return (
    `<svg viewBox="0 0 ${WIDTH} ${HEIGHT}" preserveAspectRatio="none" aria-hidden="true">` +
    bands +
    `<line class="axis" x1="0" y1="${HEIGHT - 2}" x2="${WIDTH}" y2="${HEIGHT - 2}"/>` +
    lines +
    `</svg>`
  )
}

/** Consecutive samples that have a failure rate; a sample without one ends a run (the line has a gap there). */
function runsOfRates(samples: readonly Sample[]): Sample[][] {
  const runs: Sample[][] = [[]]
  for (const sample of samples) {
    if (sample.failureRate === undefined) runs.push([])
    else runs[runs.length - 1].push(sample)
  }
  return runs
}
