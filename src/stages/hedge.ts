import type { LatencySummary } from '../latency.js'

/** Options of hedging, checked and with their defaults. */
export interface NormalizedHedge {
  /** ms, or the quantile of the key's recent attempt latency. */
  delay: number | 'p90' | 'p95' | 'p99'
  maxHedges: number
  methods: ReadonlySet<string>
  budget: { ratio: number; min: number } | false
}

/** A percentile delay needs this many samples of the key: fewer say too little about its tail. */
export const MIN_SAMPLES = 20

const QUANTILES = { p90: 0.9, p95: 0.95, p99: 0.99 } as const

/** A hedge decision per call may read a percentile up to this many samples old: no sort per call. */
const MAX_STALE = 16

/** The wait before a hedge for this key, or undefined when it may not hedge (too few samples). */
export function hedgeDelay(delay: NormalizedHedge['delay'], latency: LatencySummary | undefined): number | undefined {
  if (typeof delay === 'number') return delay
  if (latency === undefined || latency.samples < MIN_SAMPLES) return undefined
  return latency.percentile(QUANTILES[delay], MAX_STALE)
}

/** What a hedged call needs from the pipeline: how to run one attempt and how to judge it. */
export interface HedgeRunner<R> {
  /** Runs attempt `n` of the call (1 is the first) through every per-attempt gate, aborted by `signal`. */
  attempt(n: number, signal: AbortSignal): Promise<R>
  /** Whether a settled attempt's result is a failure (a failure does not win while others run). */
  failed(result: R): boolean
  /** Drops a result that lost (cancels its body). */
  discard(result: R): void
  /** Hedge `n` is due after `delay` ms: spends the budget, reports it; false when it may not start. */
  mayHedge(n: number, delay: number): boolean
}

/** The result a hedged call ends with and which attempt produced it (1: the first, not a hedge). */
export interface HedgeWin<R> {
  result: R
  attempt: number
}

type Settled<R> = { ok: true; result: R; failed: boolean } | { ok: false; error: unknown }

/**
 * Runs attempt 1 and, while no attempt has answered, one more every `delay` ms up to `maxHedges` more.
 * The first result that is not a failure wins and every other attempt is aborted at once; when all
 * fail, the failure that arrived last is the outcome. A caller abort aborts them all.
 */
export function race<R>(runner: HedgeRunner<R>, delay: number, maxHedges: number, signal: AbortSignal | undefined): Promise<HedgeWin<R>> {
  return new Promise<HedgeWin<R>>((resolve, reject) => {
    const controllers: (AbortController | undefined)[] = []
    let inFlight = 0
    let done = false
    let timer: ReturnType<typeof setTimeout> | undefined
    let failure: Settled<R> | undefined

    const drop = (settled: Settled<R> | undefined) => {
      if (settled?.ok) runner.discard(settled.result)
    }
    const finish = (winner: number, reason: unknown) => {
      done = true
      clearTimeout(timer)
      signal?.removeEventListener('abort', onAbort)
      for (let i = 0; i < controllers.length; i++) if (i + 1 !== winner) controllers[i]?.abort(reason)
    }
    const onAbort = () => {
      finish(0, signal!.reason)
      reject(signal!.reason)
    }
    const settle = (n: number, settled: Settled<R>) => {
      inFlight--
      controllers[n - 1] = undefined
      if (done) return drop(settled)
      if ((settled.ok && !settled.failed) || inFlight === 0) {
        drop(failure)
        finish(n, new DOMException('another attempt of this call won', 'AbortError'))
        if (settled.ok) resolve({ result: settled.result, attempt: n })
        else reject(settled.error)
        return
      }
      // A failure while others still run: the outcome if they all fail, unless a later one arrives.
      drop(failure)
      failure = settled
    }
    const start = () => {
      const controller = new AbortController()
      const n = controllers.push(controller)
      inFlight++
      let pending: Promise<R>
      try {
        pending = runner.attempt(n, controller.signal)
      } catch (error) {
        pending = Promise.reject(error)
      }
      pending.then(
        (result) => settle(n, { ok: true, result, failed: runner.failed(result) }),
        (error: unknown) => settle(n, { ok: false, error }),
      )
      if (n <= maxHedges) timer = setTimeout(onDelay, delay)
    }
    const onDelay = () => {
      timer = undefined
      if (!done && runner.mayHedge(controllers.length + 1, delay)) start()
    }
    if (signal !== undefined) {
      if (signal.aborted) return reject(signal.reason)
      signal.addEventListener('abort', onAbort, { once: true })
    }
    start()
  })
}
