/** Inline SVG sparkline: failure rate as a line, non-closed periods as colored bands behind it. */
import { HISTORY_SPAN, type Sample } from './history'

const WIDTH = 240
const HEIGHT = 40

export function sparklineMarkup(samples: readonly Sample[], now: number): string {
  const start = now - HISTORY_SPAN
  const x = (at: number) => (((at - start) / HISTORY_SPAN) * WIDTH).toFixed(1)
  const y = (rate: number) => (HEIGHT - 2 - rate * (HEIGHT - 4)).toFixed(1)
  let bands = ''
  for (let i = 0; i < samples.length; i++) {
    const sample = samples[i]
    if (sample.state === 'closed') continue
    const end = samples[i + 1]?.at ?? now
    const left = Number(x(sample.at))
    bands += `<rect class="band band-${sample.state}" x="${left}" y="0" width="${Math.max(1, Number(x(end)) - left).toFixed(1)}" height="${HEIGHT}"/>`
  }
  const points = samples.map((s) => `${x(s.at)},${y(s.failureRate)}`).join(' ')
  return (
    `<svg viewBox="0 0 ${WIDTH} ${HEIGHT}" preserveAspectRatio="none" aria-hidden="true">` +
    bands +
    `<line class="axis" x1="0" y1="${HEIGHT - 2}" x2="${WIDTH}" y2="${HEIGHT - 2}"/>` +
    (samples.length > 1 ? `<polyline class="rate" points="${points}"/>` : '') +
    `</svg>`
  )
}
