/**
 * The in-page simulation: a transport that answers from per-endpoint settings (no server, no
 * network) and a load generator that calls every endpoint through a resilient fetch.
 */
import { ResilienceError } from '../../src/errors'
import type { CallOptions, ResilientFetch } from '../../src/types'

export interface TrafficSettings {
  /** Chance of a failed attempt, 0..100 %. */
  errorRate: number
  /** Mean time to response headers, ms (each answer takes 0.5×..1.5× of it). */
  latency: number
  /** Calls per second the load generator makes. */
  rate: number
  /** Share of answers that are slow (the tail), 0..100 %: each takes SLOW_ANSWER_MS instead. */
  slowShare: number
}

/** How long a slow answer of the tail takes: well past a healthy p99, well under the attempt deadline. */
export const SLOW_ANSWER_MS = 1_500

const SIMULATED_ERROR = 'simulated network error'

/** Base URL of the simulated endpoints; `.invalid` can never reach a real host. */
export const SIM_ORIGIN = 'https://sim.invalid'

export function endpointUrl(endpoint: string): string {
  return `${SIM_ORIGIN}/api/${endpoint}`
}

/** The endpoint name of a simulated URL: its last path segment. */
export function endpointOf(url: string): string {
  return new URL(url).pathname.split('/').pop() ?? ''
}

/**
 * A `fetch` that never touches the network: after the endpoint's latency (or SLOW_ANSWER_MS for
 * the slow share) it answers 200 with JSON, or fails (half as a network error, half as a 500),
 * and it honours the AbortSignal.
 */
export function createSimulatedFetch(settingsOf: (endpoint: string) => TrafficSettings | undefined): typeof fetch {
  let served = 0
  return (input, init) =>
    new Promise<Response>((resolve, reject) => {
      const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url
      const signal = init?.signal ?? (input instanceof Request ? input.signal : undefined)
      if (signal?.aborted) return reject(signal.reason)
      const endpoint = endpointOf(url)
      const settings = settingsOf(endpoint)
      if (!settings) return resolve(Response.json({ error: 'no such endpoint' }, { status: 404 }))
      const onAbort = () => {
        clearTimeout(timer)
        reject(signal!.reason)
      }
      const timer = setTimeout(() => {
        signal?.removeEventListener('abort', onAbort)
        if (Math.random() * 100 >= settings.errorRate) {
          resolve(Response.json({ endpoint, n: ++served, at: Date.now() }))
        } else if (Math.random() < 0.5) {
          reject(new TypeError(`${SIMULATED_ERROR} on ${endpoint}`))
        } else {
          resolve(Response.json({ error: 'simulated failure' }, { status: 500 }))
        }
      }, answerDelay(settings))
      signal?.addEventListener('abort', onAbort, { once: true })
    })
}

/** The time one answer takes: the slow share waits SLOW_ANSWER_MS, the rest 0.5×..1.5× the mean latency. */
function answerDelay(settings: TrafficSettings): number {
  if (Math.random() * 100 < settings.slowShare) return SLOW_ANSWER_MS
  return settings.latency * (0.5 + Math.random())
}

/** What a simulated call may end with: a refusal or deadline of ours, or the transport's own simulated error. */
export function isSimulatedFailure(error: unknown): boolean {
  return error instanceof ResilienceError || (error instanceof TypeError && error.message.startsWith(SIMULATED_ERROR))
}

/** The most time one tick makes up for, ms. */
const MAX_CATCH_UP = 1_000

export interface EndpointCounters {
  calls: number
  fallbacks: number
  retries: number
  /** Hedge attempts started for this endpoint. */
  hedges: number
}

/**
 * Calls each endpoint at its rate. A 100 ms tick accumulates fractional calls for the time that
 * really passed (a busy page runs its timers late), so a rate change takes effect at once, 0.5/s
 * works, and 3/s stays 3/s under load.
 */
export class LoadGenerator {
  private timer: ReturnType<typeof setInterval> | undefined
  private lastTick = 0
  private readonly credit = new Map<string, number>()

  constructor(
    private readonly rf: ResilientFetch,
    private readonly settings: Map<string, TrafficSettings>,
    private readonly counters: Map<string, EndpointCounters>,
    /** Per-call options, read at each call, so a toggle (hedging) applies to the next call. */
    private readonly callOptions: () => CallOptions = () => ({}),
  ) {}

  start(): void {
    if (this.timer !== undefined) return
    this.lastTick = Date.now()
    this.timer = setInterval(() => this.tick(), 100)
  }

  stop(): void {
    clearInterval(this.timer)
    this.timer = undefined
  }

  get running(): boolean {
    return this.timer !== undefined
  }

  private tick(): void {
    const now = Date.now()
    // A tab the browser paused for a while resumes at its rate, not with a burst of the calls it missed.
    const seconds = Math.min(now - this.lastTick, MAX_CATCH_UP) / 1_000
    this.lastTick = now
    for (const [endpoint, settings] of this.settings) {
      let credit = (this.credit.get(endpoint) ?? 0) + settings.rate * seconds
      for (; credit >= 1; credit--) this.call(endpoint)
      this.credit.set(endpoint, credit)
    }
  }

  private call(endpoint: string): void {
    const counters = this.counters.get(endpoint)
    if (counters) counters.calls++
    // Failures are the point of the demo: they show on the cards, never as unhandled rejections.
    // Anything else is a bug (a bad option, say) and must not pass silently.
    this.rf(endpointUrl(endpoint), { resilience: this.callOptions() })
      .then((response) => response.arrayBuffer())
      .catch((error: unknown) => {
        if (!isSimulatedFailure(error)) console.error(error)
      })
  }
}
