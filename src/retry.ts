import type { NormalizedRetry } from './options.js'

/** The wait before retry number `retry` (1-based), before any Retry-After. */
export function backoffDelay(retry: number, backoff: NormalizedRetry['backoff'], random = Math.random): number {
  const exp = Math.min(backoff.max, backoff.base * 2 ** (retry - 1))
  if (backoff.jitter === 'none') return exp
  if (backoff.jitter === 'equal') return exp / 2 + random() * (exp / 2)
  return random() * exp
}

/** Retry-After in ms (delta-seconds or an HTTP-date), or undefined when absent or unreadable. */
export function parseRetryAfter(value: string | null, now: number): number | undefined {
  if (value === null) return undefined
  const trimmed = value.trim()
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000
  const date = Date.parse(trimmed)
  return Number.isNaN(date) ? undefined : Math.max(0, date - now)
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

/** Waits `ms`, ending at once with the signal's reason when it aborts. */
export function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  if (signal?.aborted) return Promise.reject(signal.reason)
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer)
      reject(signal!.reason)
    }
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort)
      resolve()
    }, ms)
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}
