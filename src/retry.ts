import type { NormalizedRetry } from './options.js'
import { MAX_TIMER_MS } from './deadline.js'

/** The wait before retry number `retry` (1-based), before any Retry-After. */
export function backoffDelay(retry: number, backoff: NormalizedRetry['backoff'], random = Math.random): number {
  const exp = Math.min(backoff.max, backoff.base * 2 ** (retry - 1))
  if (backoff.jitter === 'none') return exp
  if (backoff.jitter === 'equal') return exp / 2 + random() * (exp / 2)
  return random() * exp
}

/**
 * Retry-After in ms, or undefined when absent or not one of RFC 9110's forms (§10.2.3): delay-seconds
 * (digits only) or an HTTP-date (IMF-fixdate, or the obsolete RFC 850 and asctime forms a recipient must accept).
 */
export function parseRetryAfter(value: string | null, now: number): number | undefined {
  if (value === null) return undefined
  const trimmed = value.trim()
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000
  const date = parseHttpDate(trimmed, now)
  return date === undefined ? undefined : Math.max(0, date - now)
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec']
const MONTH = '(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)'
const TIME = '(\\d{2}):(\\d{2}):(\\d{2})'
const IMF_FIXDATE = new RegExp(`^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), (\\d{2}) ${MONTH} (\\d{4}) ${TIME} GMT$`)
const RFC850_DATE = new RegExp(`^(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday), (\\d{2})-${MONTH}-(\\d{2}) ${TIME} GMT$`)
const ASCTIME_DATE = new RegExp(`^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) ${MONTH} ([ \\d]\\d) ${TIME} (\\d{4})$`)

/** An HTTP-date (RFC 9110 §5.6.7) as ms since the epoch, or undefined. */
export function parseHttpDate(value: string, now: number): number | undefined {
  let m = IMF_FIXDATE.exec(value)
  if (m !== null) return utc(Number(m[3]), m[2]!, Number(m[1]), m.slice(4, 7))
  m = RFC850_DATE.exec(value)
  if (m !== null) {
    // A two-digit year more than 50 years in the future is in the past century.
    const current = new Date(now).getUTCFullYear()
    let year = Math.floor(current / 100) * 100 + Number(m[3])
    if (year > current + 50) year -= 100
    return utc(year, m[2]!, Number(m[1]), m.slice(4, 7))
  }
  m = ASCTIME_DATE.exec(value)
  if (m !== null) return utc(Number(m[6]), m[1]!, Number(m[2]!.trim()), m.slice(3, 6))
  return undefined
}

function utc(year: number, month: string, day: number, time: string[]): number | undefined {
  const [h, min, s] = time.map(Number) as [number, number, number]
  if (h > 23 || min > 59 || s > 60) return undefined
  const t = Date.UTC(year, MONTHS.indexOf(month), day, h, min, Math.min(s, 59))
  // Date.UTC rolls 31 Feb over into March, and reads years below 100 as 19xx: neither is the date written.
  const date = new Date(t)
  return date.getUTCDate() === day && date.getUTCFullYear() === year ? t : undefined
}

const BUDGET_BUCKETS = 10
const BUDGET_BUCKET_MS = 1_000

/** Retries one key may spend over the last 10 s: `min + ratio × calls`. Keeps a retry storm from amplifying an outage. */
export class RetryBudget {
  private readonly epochs = new Float64Array(BUDGET_BUCKETS).fill(-1)
  private readonly calls = new Uint32Array(BUDGET_BUCKETS)
  private readonly retries = new Uint32Array(BUDGET_BUCKETS)

  constructor(private readonly budget: { ratio: number; min: number }) {}

  recordCall(t: number): void {
    this.calls[this.bucket(t)]!++
  }

  /** Spends one retry if the budget allows it. */
  trySpend(t: number): boolean {
    const current = this.bucket(t)
    const oldest = Math.floor(t / BUDGET_BUCKET_MS) - BUDGET_BUCKETS
    let calls = 0
    let retries = 0
    for (let i = 0; i < BUDGET_BUCKETS; i++) {
      if (this.epochs[i]! > oldest) {
        calls += this.calls[i]!
        retries += this.retries[i]!
      }
    }
    if (retries >= this.budget.min + this.budget.ratio * calls) return false
    this.retries[current]!++
    return true
  }

  private bucket(t: number): number {
    const epoch = Math.floor(t / BUDGET_BUCKET_MS)
    const i = epoch % BUDGET_BUCKETS
    if (this.epochs[i] !== epoch) {
      this.epochs[i] = epoch
      this.calls[i] = 0
      this.retries[i] = 0
    }
    return i
  }
}

/** Waits `ms` (in steps past the longest a timer waits), ending at once with the signal's reason when it aborts. */
export function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  if (signal?.aborted) return Promise.reject(signal.reason)
  return new Promise((resolve, reject) => {
    let timer: ReturnType<typeof setTimeout>
    const onAbort = () => {
      clearTimeout(timer)
      reject(signal!.reason)
    }
    const wait = (left: number): void => {
      timer = setTimeout(() => {
        if (left > MAX_TIMER_MS) return wait(left - MAX_TIMER_MS)
        signal?.removeEventListener('abort', onAbort)
        resolve()
      }, Math.min(left, MAX_TIMER_MS))
    }
    wait(ms)
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}
