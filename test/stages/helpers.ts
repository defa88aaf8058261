import { Events } from '../../src/events.js'
import { normalizeRetry, normalizeTimeout } from '../../src/options.js'
import type { ResilienceTotals } from '../../src/types.js'
import type { Call, Outcome, Runtime } from '../../src/stages/types.js'
import { isOneShot } from '../../src/stages/transport.js'

/** A clock the test moves by hand. */
export function fakeClock(start = 1_000_000) {
  let t = start
  return { now: () => t, advance: (ms: number) => void (t += ms), set: (ms: number) => void (t = ms) }
}

/** A runtime with a hand-moved clock and every event recorded as `type:detail-json`. */
export function testRuntime(now: () => number = fakeClock().now) {
  const totals: ResilienceTotals = { requests: 0, successes: 0, failures: 0, rejected: 0, timeouts: 0, retries: 0, fallbacks: 0, hedges: 0, throttled: 0, coalesced: 0 }
  const events = new Events()
  const seen: { type: string; detail: Record<string, unknown> }[] = []
  for (const type of ['statechange', 'success', 'failure', 'reject', 'retry', 'timeout', 'fallback', 'storeerror']) {
    events.addEventListener(type, (e) => seen.push({ type, detail: (e as CustomEvent).detail }))
  }
  const runtime: Runtime = { now, totals, events }
  return { runtime, totals, seen }
}

/** A GET call of key https://a.test with the given parts (states: one slot per stage, as the test passes them). */
export function testCall(parts: Partial<Call> = {}): Call {
  return {
    key: 'https://a.test',
    input: 'https://a.test/x',
    init: undefined,
    method: 'GET',
    url: 'https://a.test/x',
    signal: undefined,
    timeout: normalizeTimeout(false),
    retry: normalizeRetry(false),
    priority: 1,
    options: undefined,
    waitUntil: undefined,
    at: 0,
    deadline: undefined,
    attempts: 0,
    states: [],
    // As createCall records it: an init stream body.
    oneShot: isOneShot(parts.init?.body),
    ...parts,
  }
}

export function ok(status = 200, headers?: HeadersInit): Outcome {
  return { kind: 'response', response: new Response(`s${status}`, { status, headers }), failure: status >= 500 || status === 408 || status === 429, duration: 1 }
}

export function networkError(): Outcome {
  return { kind: 'error', error: new TypeError('fetch failed'), failure: true, duration: 1 }
}
