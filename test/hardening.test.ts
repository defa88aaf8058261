import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { ResilienceError, TimeoutError, createResilientFetch } from '../src/index.js'
import { flush, rejection } from './helpers.js'

const URL_A = 'https://a.test/x'

/** A transport that never answers and, like workerd, rejects an aborted fetch with a plain Error (not the signal's reason). */
function plainErrorOnAbort() {
  const signals: AbortSignal[] = []
  const fetch = vi.fn((_input: RequestInfo | URL, init?: RequestInit) => {
    const signal = init!.signal!
    signals.push(signal)
    return new Promise<Response>((_, reject) => {
      signal.addEventListener('abort', () => reject(new Error(`${String(signal.reason)}`)), { once: true })
    })
  })
  return { fetch: fetch as unknown as typeof globalThis.fetch, signals }
}

describe('a deadline we armed is a TimeoutError whatever the transport rejects with (issue 9 item 1, issue 10 defect 4)', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: 1_000_000 })
  })
  afterEach(() => {
    vi.useRealTimers()
  })

  it('attempt deadline: TimeoutError scope attempt, counted, timeout event, breaker failure', async () => {
    const t = plainErrorOnAbort()
    const rf = createResilientFetch({
      fetch: t.fetch,
      timeout: { attempt: 100, total: false },
      retry: false,
      fallback: false,
      breaker: { window: 'consecutive', failureThreshold: 1 },
    })
    const events: string[] = []
    rf.addEventListener('timeout', (e) => {
      events.push(`${e.detail.scope}:${e.detail.timeout}`)
    })
    const p = rejection(rf(URL_A))
    await flush()
    vi.advanceTimersByTime(100)
    const error = await p
    expect(t.signals[0]!.aborted).toBe(true)
    expect(error).toBeInstanceOf(TimeoutError)
    expect(error).toBeInstanceOf(ResilienceError)
    expect(error).toMatchObject({ name: 'TimeoutError', scope: 'attempt', timeout: 100 })
    expect(events).toEqual(['attempt:100'])
    expect(rf.snapshot().totals).toMatchObject({ requests: 1, failures: 1, timeouts: 1 })
    expect(rf.breaker('https://a.test')!.state).toBe('open')
  })

  it('total deadline: TimeoutError scope total', async () => {
    const t = plainErrorOnAbort()
    const rf = createResilientFetch({ fetch: t.fetch, timeout: { attempt: false, total: 250 }, retry: false, fallback: false, breaker: false })
    const p = rejection(rf(URL_A))
    await flush()
    vi.advanceTimersByTime(250)
    const error = await p
    expect(error).toBeInstanceOf(TimeoutError)
    expect(error).toMatchObject({ scope: 'total', timeout: 250 })
    expect(rf.snapshot().totals.timeouts).toBe(1)
  })

  it("the caller's abort before the deadline stays the caller's, even when the deadline passes before the transport settles", async () => {
    let rejectLater: ((e: unknown) => void) | undefined
    const fetch = (() => new Promise<Response>((_, reject) => (rejectLater = reject))) as unknown as typeof globalThis.fetch
    const rf = createResilientFetch({ fetch, timeout: { attempt: 100, total: false }, retry: false, fallback: false, breaker: false })
    const controller = new AbortController()
    const p = rejection(rf(URL_A, { signal: controller.signal }))
    await flush()
    const reason = new Error('mine')
    controller.abort(reason)
    vi.advanceTimersByTime(100)
    rejectLater!(new Error('transport noise'))
    expect(await p).toBe(reason)
    expect(rf.snapshot().totals.timeouts).toBe(0)
  })
})
