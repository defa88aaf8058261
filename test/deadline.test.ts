import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { ResilienceError, TimeoutError, createResilientFetch } from '../src/index.js'
import { controlledTransport, flush } from './helpers.js'

const URL_A = 'https://a.test/x'

beforeEach(() => {
  vi.useFakeTimers({ now: 1_000_000 })
})
afterEach(() => {
  vi.useRealTimers()
})

function make(timeout: unknown, retry: unknown = false) {
  const c = controlledTransport()
  const rf = createResilientFetch({ fetch: c.fetch, timeout: timeout as never, retry: retry as never, fallback: false, breaker: false })
  const timeouts: string[] = []
  rf.addEventListener('timeout', (e) => timeouts.push(`${e.detail.scope}:${e.detail.timeout}`))
  return { c, rf, timeouts }
}

describe('deadlines', () => {
  it('the attempt deadline aborts the request and rejects with TimeoutError scope attempt', async () => {
    const { c, rf, timeouts } = make(100)
    const p = rf(URL_A).catch((e) => e)
    await flush()
    const sent = c.pending[0]!
    vi.advanceTimersByTime(99)
    expect(sent.signal!.aborted).toBe(false)
    vi.advanceTimersByTime(1)
    const error = await p
    expect(sent.signal!.aborted).toBe(true)
    expect(error).toBeInstanceOf(TimeoutError)
    expect(error).toBeInstanceOf(ResilienceError)
    expect(error).toMatchObject({ name: 'TimeoutError', timeout: 100, scope: 'attempt' })
    expect(timeouts).toEqual(['attempt:100'])
    expect(rf.snapshot().totals).toMatchObject({ requests: 1, failures: 1, timeouts: 1 })
  })

  it('the total deadline covers retries and waits and is reported with scope total', async () => {
    const { c, rf, timeouts } = make({ attempt: 100, total: 250 }, { limit: 5, backoff: { base: 10, jitter: 'none' } })
    const p = rf(URL_A).catch((e) => e)
    for (let i = 0; i < 3; i++) {
      await flush(10)
      vi.advanceTimersByTime(100)
      await flush(10)
      vi.advanceTimersByTime(10 * 2 ** i)
    }
    const error = await p
    expect(error).toMatchObject({ name: 'TimeoutError', scope: 'total', timeout: 250 })
    expect(timeouts).toEqual(['attempt:100', 'attempt:100', 'total:250'])
  })

  it('once the response resolved, nothing we armed aborts its body; the caller signal still does', async () => {
    const { c, rf } = make(100)
    const controller = new AbortController()
    const p = rf(URL_A, { signal: controller.signal })
    await flush()
    const sent = c.pending[0]!
    sent.respond(200, undefined, new ReadableStream({ start() {} }))
    await p
    vi.advanceTimersByTime(10_000)
    expect(sent.signal!.aborted).toBe(false)
    expect(vi.getTimerCount()).toBe(0)
    controller.abort('stop')
    expect(sent.signal!.aborted).toBe(true)
    expect(sent.signal!.reason).toBe('stop')
  })

  it('a user abort rejects with signal.reason, never counts as a failure, and is not retried', async () => {
    const { c, rf } = make(1000, 3)
    const controller = new AbortController()
    const reason = { why: 'navigated away' }
    const p = rf(URL_A, { signal: controller.signal }).catch((e) => e)
    await flush()
    controller.abort(reason)
    expect(await p).toBe(reason)
    expect(c.calls).toHaveLength(1)
    expect(rf.snapshot().totals).toMatchObject({ requests: 1, failures: 0, successes: 0 })
    expect(vi.getTimerCount()).toBe(0)
  })

  it('an already-aborted signal rejects at once without calling the transport', async () => {
    const { c, rf } = make(1000)
    await expect(rf(URL_A, { signal: AbortSignal.abort('early') })).rejects.toBe('early')
    expect(c.calls).toHaveLength(0)
  })

  it("a Request's own signal is honoured", async () => {
    const { c, rf } = make(1000)
    const controller = new AbortController()
    const p = rf(new Request(URL_A, { signal: controller.signal })).catch((e) => e)
    await flush()
    controller.abort('from request')
    expect(await p).toBe('from request')
    expect(c.calls[0]!.signal!.aborted).toBe(true)
  })

  it('timeout: false arms nothing and passes the caller signal straight through', async () => {
    const { c, rf } = make(false)
    const controller = new AbortController()
    const p = rf(URL_A, { signal: controller.signal })
    await flush()
    expect(c.pending[0]!.signal).toBe(controller.signal)
    expect(vi.getTimerCount()).toBe(0)
    c.pending[0]!.respond(200)
    await p
  })

  it('per-call timeout overrides the instance', async () => {
    const { rf } = make(10_000)
    const p = rf(URL_A, { resilience: { timeout: 20 } }).catch((e) => e)
    await flush()
    vi.advanceTimersByTime(20)
    expect(await p).toMatchObject({ scope: 'attempt', timeout: 20 })
  })
})

describe('a per-call timeout writes over the instance’s, not over the defaults', () => {
  const settled = <T>(p: Promise<T>) => Promise.race([p, Promise.resolve('pending' as const)])
  const retrying = { limit: 100, backoff: { base: 1, max: 1, jitter: 'none' }, budget: false }

  it('a number is the attempt deadline under the instance’s total', async () => {
    const { rf, timeouts } = make({ attempt: 300, total: 1_000 }, retrying)
    const p = rf(URL_A, { resilience: { timeout: 200 } }).catch((e) => e)
    await vi.advanceTimersByTimeAsync(1_000)
    expect(await settled(p)).toMatchObject({ name: 'TimeoutError', scope: 'total', timeout: 1_000 })
    expect(timeouts.slice(0, 2)).toEqual(['attempt:200', 'attempt:200'])
    expect(timeouts.at(-1)).toBe('total:1000')
  })

  it('{ attempt } keeps the instance’s total; { total } keeps its attempt deadline', async () => {
    const a = make({ attempt: 300, total: 1_000 }, retrying)
    const p = a.rf(URL_A, { resilience: { timeout: { attempt: 200 } } }).catch((e) => e)
    await vi.advanceTimersByTimeAsync(1_000)
    expect(await settled(p)).toMatchObject({ scope: 'total', timeout: 1_000 })
    expect(a.timeouts[0]).toBe('attempt:200')

    const b = make({ attempt: 300, total: 1_000 })
    const q = b.rf(URL_A, { resilience: { timeout: { total: 500 } } }).catch((e) => e)
    await vi.advanceTimersByTimeAsync(300)
    expect(await settled(q)).toMatchObject({ scope: 'attempt', timeout: 300 })
  })

  it('a number up to the instance’s total is accepted, past it refused naming the instance’s total; with no total, any', async () => {
    const { c, rf, timeouts } = make({ attempt: 10_000, total: 120_000 })
    const p = rf(URL_A, { resilience: { timeout: 60_000 } }).catch((e) => e)
    await vi.advanceTimersByTimeAsync(60_000)
    expect(await settled(p)).toMatchObject({ name: 'TimeoutError', scope: 'attempt', timeout: 60_000 })
    expect(timeouts).toEqual(['attempt:60000'])
    await expect(rf(URL_A, { resilience: { timeout: 150_000 } })).rejects.toThrow(
      new RangeError('resilience.timeout (150000 ms) must not exceed the total deadline (120000 ms on the instance)'),
    )
    expect(c.calls).toHaveLength(1)

    const none = make({ attempt: 300, total: false })
    const q = none.rf(URL_A, { resilience: { timeout: 60_000 } }).catch((e) => e)
    await vi.advanceTimersByTimeAsync(60_000)
    expect(await settled(q)).toMatchObject({ scope: 'attempt', timeout: 60_000 })
  })

  it('both written are judged together, as on the instance; false arms no deadline', async () => {
    const { c, rf } = make({ attempt: 300, total: 1_000 })
    await expect(rf(URL_A, { resilience: { timeout: { attempt: 5_000, total: 2_000 } } })).rejects.toThrow(
      'resilience.timeout.attempt (5000 ms) must not exceed resilience.timeout.total (2000 ms)',
    )
    const p = rf(URL_A, { resilience: { timeout: false } })
    await flush()
    expect(vi.getTimerCount()).toBe(0)
    c.pending[0]!.respond(200)
    expect((await p).status).toBe(200)
  })
})

describe('a deadline that passes before the network is a timeout too (counted and reported once, per attempt)', () => {
  /** The brief's case: the only permit is held for 800 ms; the second call's total deadline (300 ms) passes in the queue. */
  function queued(options: { fallback?: false; retry?: unknown } = {}) {
    const fetch = () => new Promise<Response>((resolve) => setTimeout(() => resolve(new Response('ok')), 800))
    const rf = createResilientFetch({
      fetch,
      bulkhead: { maxConcurrent: 1 },
      timeout: { attempt: 300, total: 300 },
      // One failure would open it: a queue timeout must not count as one.
      breaker: { window: 'consecutive', failureThreshold: 1 },
      fallback: false,
      retry: (options.retry ?? false) as never,
    })
    const events: unknown[] = []
    rf.addEventListener('timeout', (e) => events.push(e.detail))
    const holder = rf(URL_A, { resilience: { timeout: { attempt: 2_000, total: 2_000 } } })
    return { rf, events, holder }
  }

  it('a call whose total deadline passes while queued for a permit rejects with TimeoutError, a timeout event and totals.timeouts', async () => {
    const { rf, events, holder } = queued()
    const cut = rf(URL_A).catch((e) => e)
    await vi.advanceTimersByTimeAsync(300)
    const error = await cut
    expect(error).toBeInstanceOf(TimeoutError)
    expect(error).toMatchObject({ timeout: 300, scope: 'total' })
    expect(events).toEqual([{ key: 'https://a.test', timeout: 300, scope: 'total' }])
    // It never reached the network: rejected, not a failure; the bulkhead did not refuse it either.
    expect(rf.snapshot().totals).toMatchObject({ requests: 2, rejected: 1, failures: 0, timeouts: 1 })
    expect(rf.snapshot().bulkheads[0]).toMatchObject({ rejected: 0, queued: 0, active: 1 })
    await vi.advanceTimersByTimeAsync(500)
    expect((await holder).status).toBe(200)
    // Nothing reached the upstream, so the breaker learnt nothing: closed, no failure.
    expect(rf.snapshot().breakers[0]).toMatchObject({ state: 'closed', failures: 0 })
    expect(rf.breaker(URL_A)!.state).toBe('closed')
    expect(events).toHaveLength(1)
    expect(rf.snapshot().totals).toMatchObject({ requests: 2, successes: 1, rejected: 1, failures: 0, timeouts: 1 })
  })

  it('a retry attempt cut in the queue counts its timeout; the call ends with the outcome before it', async () => {
    const c = controlledTransport()
    const rf = createResilientFetch({
      fetch: c.fetch,
      bulkhead: { maxConcurrent: 1 },
      timeout: { attempt: false, total: 300 },
      retry: { limit: 2, backoff: { base: 100, jitter: 'none' } },
      breaker: { window: 'consecutive', failureThreshold: 2 },
      fallback: false,
    })
    const events: unknown[] = []
    rf.addEventListener('timeout', (e) => events.push(e.detail))
    const retried = rf(URL_A)
    await flush()
    c.pending[0]!.respond(503)
    await flush()
    // During the backoff another call takes the only permit and keeps it.
    const holder = rf(URL_A, { resilience: { timeout: { total: 2_000 } } })
    await flush()
    expect(c.pending).toHaveLength(1)
    await vi.advanceTimersByTimeAsync(100)
    expect(rf.snapshot().bulkheads[0]).toMatchObject({ active: 1, queued: 1 })
    await vi.advanceTimersByTimeAsync(200)
    // The call's last real outcome, as when a gate refuses a retry; the cut retry is a timeout all the same.
    expect((await retried).status).toBe(503)
    expect(events).toEqual([{ key: 'https://a.test', timeout: 300, scope: 'total' }])
    expect(rf.snapshot().totals).toMatchObject({ requests: 2, failures: 1, rejected: 0, timeouts: 1 })
    // Only the 503 reached the breaker: one failure, below its threshold.
    expect(rf.snapshot().breakers[0]).toMatchObject({ state: 'closed', failures: 1 })
    c.pending[0]!.respond(200)
    expect((await holder).status).toBe(200)
    expect(events).toHaveLength(1)
  })
})
