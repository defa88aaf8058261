import type { NormalizedRetry } from './options.js'
import { MAX_TIMER_MS } from './deadline.js'
import { within } from './within.js'

/** The wait before retry number `retry` (1-based), before any Retry-After. */
export function backoffDelay(retry: number, backoff: NormalizedRetry['backoff'], random = Math.random): number {
  const exp = Math.min(backoff.max, backoff.base * 2 ** (retry - 1))
  if (backoff.jitter === 'none') return exp
  if (backoff.jitter === 'equal') return exp / 2 + random() * (exp / 2)
  return random() * exp
}

/** The groups of a date's match as numbers (the month's NaN unused). */
type DateFields = [match: number, day: number, month: number, year: number, h: number, min: number, s: number]

/**
 * Retry-After in ms, or undefined when absent or not one of RFC 9110's forms (§10.2.3): delay-seconds
 * (digits only) or an HTTP-date (IMF-fixdate, or the obsolete RFC 850 and asctime forms a recipient must accept).
 */
export function parseRetryAfter(value: string | null, now: number): number | undefined {
  if (value === null) return undefined
  const trimmed = value.trim()
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000
  // The three HTTP-date forms (RFC 9110 §5.6.7), each capturing day, month, year, hours, minutes, seconds in that
  // order: IMF-fixdate, RFC 850, and asctime, which writes month, day, time, year (lookaheads read its day and year
  // ahead of their places). Literals here: a named one costs bytes in the browser bundle; gzip finds the repeats.
  const m =
    /^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), (\d\d) (\w{3}) (\d{4}) (\d\d):(\d\d):(\d\d) GMT$/.exec(trimmed) ??
    /^(?:Mon|Tues|Wednes|Thurs|Fri|Satur|Sun)day, (\d\d)-(\w{3})-(\d\d) (\d\d):(\d\d):(\d\d) GMT$/.exec(trimmed) ??
    /^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) (?=\w{3} ([ \d]\d))(\w{3}) [ \d]\d (?=.{8} (\d{4}))(\d\d):(\d\d):(\d\d) \d{4}$/.exec(trimmed)
  if (m === null) return undefined
  let [, day, , year, h, min, s] = m.map(Number) as DateFields
  // Month names, three letters each: a month's number is its offset / 3.
  const offset = 'JanFebMarAprMayJunJulAugSepOctNovDec'.indexOf(m[2]!)
  if (m[3]!.length === 2) {
    // RFC 850's two-digit year: one more than 50 years in the future is in the past century.
    const current = new Date(now).getUTCFullYear()
    year += current - (current % 100)
    if (year > current + 50) year -= 100
  }
  // Not a month name (indexOf -1, or letters across two names), or not a time of day.
  if (offset % 3 !== 0 || h > 23 || min > 59 || s > 60) return undefined
  const t = Date.UTC(year, offset / 3, day, h, min, Math.min(s, 59))
  // Date.UTC rolls 31 Feb over into March, and reads years below 100 as 19xx: neither is the date written.
  const date = new Date(t)
  return date.getUTCDate() === day && date.getUTCFullYear() === year ? Math.max(0, t - now) : undefined
}

/** Waits `ms` (in steps past the longest a timer waits), ending at once with the signal's reason when it aborts. */
export const sleep = (ms: number, signal: AbortSignal | undefined): Promise<void> =>
  // A wait on nothing, bounded: its bound is the wake-up (`within` resolves at it when given no message).
  within(new Promise<void>(() => {}), Math.min(ms, MAX_TIMER_MS), undefined, signal).then(() => (ms > MAX_TIMER_MS ? sleep(ms - MAX_TIMER_MS, signal) : undefined))
