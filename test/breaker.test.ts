import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { CircuitOpenError, createResilientFetch, type ResilientFetchOptions } from '../src/index.js'
import { controlledTransport, flush, statusTransport } from './helpers.js'

const URL_A = 'https://a.test/x'
const KEY = 'https://a.test'

function make(fetch: typeof globalThis.fetch, options: ResilientFetchOptions = {}) {
  const rf = createResilientFetch({ fetch, retry: false, fallback: false, timeout: false, ...options })
  const changes: string[] = []
  rf.addEventListener('statechange', (e) => changes.push(`${e.detail.from}>${e.detail.to}`))
  return { rf, changes }
}

beforeEach(() => {
  vi.useFakeTimers({ now: 1_000_000 })
})
afterEach(() => {
  vi.useRealTimers()
})

describe('closed → open', () => {
  it('opens after failureThreshold failures in the time window and then fails fast without calling the transport', async () => {
    const t = statusTransport(500)
    const { rf, changes } = make(t.fetch, { breaker: { failureThreshold: 3 } })
    for (let i = 0; i < 2; i++) expect((await rf(URL_A)).status).toBe(500)
    expect(rf.breaker(KEY)!.state).toBe('closed')
    expect((await rf(URL_A)).status).toBe(500)
    expect(rf.breaker(KEY)!.state).toBe('open')
    expect(changes).toEqual(['closed>open'])
    const error = await rf(URL_A).catch((e) => e)
    expect(error).toBeInstanceOf(CircuitOpenError)
    expect(error.name).toBe('CircuitOpenError')
    expect(error.key).toBe(KEY)
    expect(error.retryAfter).toBe(30_000)
    expect(t.mock).toHaveBeenCalledTimes(3)
  })

  it('forgets failures older than the time window', async () => {
    const t = statusTransport(500)
    const { rf } = make(t.fetch, { breaker: { failureThreshold: 3, window: { type: 'time', duration: 10_000 } } })
    await rf(URL_A)
    await rf(URL_A)
    vi.advanceTimersByTime(11_000)
    await rf(URL_A)
    expect(rf.breaker(KEY)!.state).toBe('closed')
    expect(rf.snapshot().breakers[0]).toMatchObject({ calls: 1, failures: 1 })
  })

  it('consecutive window: a success ends the run', async () => {
    const t = statusTransport(500, 500, 200, 500, 500, 500)
    const { rf } = make(t.fetch, { breaker: { failureThreshold: 3, window: 'consecutive' } })
    for (let i = 0; i < 5; i++) await rf(URL_A)
    expect(rf.breaker(KEY)!.state).toBe('closed')
    await rf(URL_A)
    expect(rf.breaker(KEY)!.state).toBe('open')
  })

  it('count window: only the last `size` attempts count', async () => {
    const t = statusTransport(500, 500, 200, 200, 200, 500, 500)
    const { rf } = make(t.fetch, { breaker: { failureThreshold: 3, window: { type: 'count', size: 4 } } })
    for (let i = 0; i < 6; i++) await rf(URL_A)
    // window now holds 200,200,200,500 → 1 failure
    expect(rf.snapshot().breakers[0]).toMatchObject({ calls: 4, failures: 1 })
    await rf(URL_A)
    expect(rf.breaker(KEY)!.state).toBe('closed')
  })

  it('failureRate: also requires failures / calls >= rate', async () => {
    const t = statusTransport(200, 200, 200, 200, 200, 200, 500, 500, 500, 500, 500, 500, 500)
    const { rf } = make(t.fetch, { breaker: { failureThreshold: 3, failureRate: 0.5 } })
    for (let i = 0; i < 9; i++) await rf(URL_A) // 6 ok, 3 failures: 33%
    expect(rf.breaker(KEY)!.state).toBe('closed')
    for (let i = 0; i < 3; i++) await rf(URL_A) // 6 ok, 6 failures: 50%
    expect(rf.breaker(KEY)!.state).toBe('open')
  })

  it('slow calls count like failures when slowCalls >= threshold and their rate >= slowCall.rate', async () => {
    const c = controlledTransport()
    const { rf } = make(c.fetch, { breaker: { failureThreshold: 2, slowCall: { duration: 100, rate: 0.5 } } })
    for (let i = 0; i < 2; i++) {
      const p = rf(URL_A)
      await flush()
      vi.advanceTimersByTime(150)
      c.pending[0]!.respond(200)
      expect((await p).status).toBe(200)
    }
    expect(rf.snapshot().breakers[0]).toMatchObject({ state: 'open' })
  })

  it('a user-supplied isFailure decides what counts', async () => {
    const t = statusTransport(404)
    const { rf } = make(t.fetch, { breaker: { failureThreshold: 2 }, isFailure: ({ response }) => response?.status === 404 })
    await rf(URL_A)
    await rf(URL_A)
    expect(rf.breaker(KEY)!.state).toBe('open')
  })

  it('keys are per origin by default and per key() when given', async () => {
    const t = statusTransport(500)
    const { rf } = make(t.fetch, { breaker: { failureThreshold: 1 } })
    await rf('https://a.test/1')
    expect(rf.breaker('https://a.test')!.state).toBe('open')
    expect((await rf('https://b.test/1')).status).toBe(500)
    expect(rf.breaker('https://b.test')!.state).toBe('open')

    const byPath = make(statusTransport(500).fetch, { breaker: { failureThreshold: 1 }, key: (r) => new URL(r.url).pathname })
    await byPath.rf('https://a.test/users')
    expect(byPath.rf.breaker('/users')!.state).toBe('open')
    expect(byPath.rf.breaker('/orders')).toBeUndefined()
  })
})

describe('open → half-open → closed | open', () => {
  async function opened(options: ResilientFetchOptions['breaker'] = {}) {
    const c = controlledTransport()
    const made = make(c.fetch, { breaker: { failureThreshold: 1, openDuration: 1000, ...options } })
    const p = made.rf(URL_A)
    await flush()
    c.pending[0]!.respond(500)
    await p
    expect(made.rf.breaker(KEY)!.state).toBe('open')
    return { c, ...made }
  }

  it('an open the clock is set back during lasts at most its openDuration from then (not until the clock is back where it was)', async () => {
    const { c, rf } = await opened({ openDuration: 30_000 })
    vi.advanceTimersByTime(10_000)
    vi.setSystemTime(Date.now() - 3_600_000)
    const refused = await rf(URL_A).catch((e) => e)
    expect(refused).toBeInstanceOf(CircuitOpenError)
    expect(refused.retryAfter).toBe(30_000)
    vi.advanceTimersByTime(29_999)
    await expect(rf(URL_A)).rejects.toBeInstanceOf(CircuitOpenError)
    vi.advanceTimersByTime(1)
    const probe = rf(URL_A)
    await flush()
    expect(rf.breaker(KEY)!.state).toBe('half-open')
    c.pending[0]!.respond(200)
    expect((await probe).status).toBe(200)
    expect(rf.breaker(KEY)!.state).toBe('closed')
  })

  it('an open that begins after the clock was set back lasts its whole duration: a trip, and a forced open(ms)', async () => {
    const c = controlledTransport()
    const { rf } = make(c.fetch, { breaker: { failureThreshold: 1, openDuration: 30_000 } })
    vi.setSystemTime(1_800_000_000_000)
    const first = rf(URL_A)
    await flush()
    c.pending[0]!.respond(200)
    await first
    vi.setSystemTime(1_800_000_000_000 - 3_600_000)
    const p = rf(URL_A)
    await flush()
    c.pending[0]!.respond(500)
    await p
    expect(rf.breaker(KEY)!.state).toBe('open')
    expect((await rf(URL_A).catch((e) => e)).retryAfter).toBe(30_000)
    vi.setSystemTime(1_800_000_000_000 - 7_200_000)
    rf.breaker(KEY)!.open(600_000)
    expect(rf.breaker(KEY)!.state).toBe('forced-open')
    expect((await rf(URL_A).catch((e) => e)).retryAfter).toBe(600_000)
  })

  it('after openDuration lets exactly `probes` calls through and rejects the rest at once', async () => {
    const { c, rf, changes } = await opened({ halfOpen: { probes: 2 } })
    vi.advanceTimersByTime(999)
    await expect(rf(URL_A)).rejects.toBeInstanceOf(CircuitOpenError)
    vi.advanceTimersByTime(1)
    const probes = [rf(URL_A), rf(URL_A)]
    const third = rf(URL_A).catch((e) => e)
    await flush()
    expect(c.pending).toHaveLength(2)
    expect(await third).toBeInstanceOf(CircuitOpenError)
    expect(rf.breaker(KEY)!.state).toBe('half-open')
    c.pending[0]!.respond(200)
    await probes[0]
    expect(rf.breaker(KEY)!.state).toBe('closed')
    c.pending[0]!.respond(200)
    await probes[1]
    expect(changes).toEqual(['closed>open', 'open>half-open', 'half-open>closed'])
  })

  it('a half-open rejection carries retryAfter until the probe attempt deadline', async () => {
    const c = controlledTransport()
    const { rf } = make(c.fetch, { breaker: { failureThreshold: 1, openDuration: 1000 }, timeout: { attempt: 5000, total: false } })
    const p = rf(URL_A)
    await flush()
    c.pending[0]!.respond(500)
    await p
    vi.advanceTimersByTime(1000)
    const probe = rf(URL_A)
    await flush()
    vi.advanceTimersByTime(1000)
    const error = await rf(URL_A).catch((e) => e)
    expect(error.retryAfter).toBe(4000)
    c.pending[0]!.respond(200)
    await probe
  })

  it('needs successesToClose probe successes to close', async () => {
    const { c, rf } = await opened({ halfOpen: { probes: 1, successesToClose: 2 } })
    vi.advanceTimersByTime(1000)
    for (let i = 0; i < 2; i++) {
      expect(rf.breaker(KEY)!.state).toBe('half-open')
      const p = rf(URL_A)
      await flush()
      c.pending[0]!.respond(200)
      await p
    }
    expect(rf.breaker(KEY)!.state).toBe('closed')
  })

  it('a probe failure re-opens with a longer open duration, up to max, and a close resets it', async () => {
    const c = controlledTransport()
    const { rf } = make(c.fetch, { breaker: { failureThreshold: 1, openDuration: { base: 1000, max: 3000, multiplier: 2, jitter: 0 } } })
    const fail = async () => {
      const p = rf(URL_A)
      await flush()
      c.pending[0]!.respond(500)
      await p
    }
    await fail()
    const opened = () => rf.snapshot().breakers[0]!
    expect(opened().nextProbeAt! - opened().openedAt!).toBe(1000)
    vi.advanceTimersByTime(1000)
    await fail()
    expect(opened().nextProbeAt! - opened().openedAt!).toBe(2000)
    vi.advanceTimersByTime(2000)
    await fail()
    expect(opened().nextProbeAt! - opened().openedAt!).toBe(3000)
    vi.advanceTimersByTime(3000)
    await fail()
    expect(opened().nextProbeAt! - opened().openedAt!).toBe(3000)
    rf.breaker(KEY)!.close()
    await fail()
    expect(opened().nextProbeAt! - opened().openedAt!).toBe(1000)
  })

  it('jitter takes up to `jitter` of the duration off at random', async () => {
    const random = vi.spyOn(Math, 'random').mockReturnValue(0.5)
    const c = controlledTransport()
    const { rf } = make(c.fetch, { breaker: { failureThreshold: 1, openDuration: { base: 1000, max: 1000, jitter: 0.2 } } })
    const p = rf(URL_A)
    await flush()
    c.pending[0]!.respond(500)
    await p
    const b = rf.snapshot().breakers[0]!
    expect(b.nextProbeAt! - b.openedAt!).toBe(900)
    random.mockRestore()
  })

  it('a user abort of a probe frees the probe slot without judging the upstream', async () => {
    const { c, rf } = await opened()
    vi.advanceTimersByTime(1000)
    const controller = new AbortController()
    const probe = rf(URL_A, { signal: controller.signal }).catch((e) => e)
    await flush()
    controller.abort(new Error('user left'))
    expect((await probe).message).toBe('user left')
    expect(rf.breaker(KEY)!.state).toBe('half-open')
    const next = rf(URL_A)
    await flush()
    expect(c.pending).toHaveLength(1)
    c.pending[0]!.respond(200)
    await next
    expect(rf.breaker(KEY)!.state).toBe('closed')
  })
})

describe('a slow half-open probe (issue 10 defect 11)', () => {
  it('counts like a failure: a breaker that slow calls opened re-opens, and a fast probe closes it', async () => {
    const c = controlledTransport()
    const { rf, changes } = make(c.fetch, { breaker: { failureThreshold: 2, openDuration: 1_000, slowCall: { duration: 100, rate: 0.5 } } })
    const slowCall = async () => {
      const p = rf(URL_A)
      await flush()
      vi.advanceTimersByTime(150)
      c.pending[0]!.respond(200)
      expect((await p).status).toBe(200)
    }
    await slowCall()
    await slowCall()
    expect(rf.breaker(KEY)!.state).toBe('open')
    vi.advanceTimersByTime(1_000)
    await slowCall()
    expect(rf.breaker(KEY)!.state).toBe('open')
    expect(changes).toEqual(['closed>open', 'open>half-open', 'half-open>open'])
    vi.advanceTimersByTime(1_000)
    const p = rf(URL_A)
    await flush()
    c.pending[0]!.respond(200)
    expect((await p).status).toBe(200)
    expect(rf.breaker(KEY)!.state).toBe('closed')
  })
})

describe('calls admitted before a state change', () => {
  it('run to the end, are never aborted by the breaker, and do not move it afterwards', async () => {
    const c = controlledTransport()
    const { rf, changes } = make(c.fetch, { breaker: { failureThreshold: 1, openDuration: 1000 } })
    const early = [rf(URL_A), rf(URL_A), rf(URL_A)]
    await flush()
    expect(c.pending).toHaveLength(3)
    c.pending[0]!.respond(500)
    await early[0]
    expect(rf.breaker(KEY)!.state).toBe('open')
    expect(c.pending.every((p) => !p.signal?.aborted)).toBe(true)
    // a late failure while open changes nothing
    c.pending[0]!.respond(500)
    expect((await early[1]).status).toBe(500)
    vi.advanceTimersByTime(1000)
    const probe = rf(URL_A)
    await flush()
    // the last early call succeeds during half-open: it is not the probe and closes nothing
    c.pending[0]!.respond(200)
    expect((await early[2]).status).toBe(200)
    expect(rf.breaker(KEY)!.state).toBe('half-open')
    c.pending[0]!.respond(200)
    await probe
    expect(changes).toEqual(['closed>open', 'open>half-open', 'half-open>closed'])
  })
})

describe('Retry-After opens the key', () => {
  it('a 503 with Retry-After opens the breaker until then', async () => {
    const t = statusTransport([503, { 'retry-after': '7' }], 200)
    const { rf } = make(t.fetch, { breaker: { failureThreshold: 100 } })
    expect((await rf(URL_A)).status).toBe(503)
    expect(rf.breaker(KEY)!.state).toBe('open')
    const error = await rf(URL_A).catch((e) => e)
    expect(error.retryAfter).toBe(7000)
    vi.advanceTimersByTime(7000)
    expect((await rf(URL_A)).status).toBe(200)
    expect(rf.breaker(KEY)!.state).toBe('closed')
  })

  it('a 429 with an HTTP-date Retry-After too, unless breaker.retryAfter is false', async () => {
    const date = new Date(Date.now() + 5000).toUTCString()
    const t = statusTransport([429, { 'retry-after': date }])
    const { rf } = make(t.fetch, { breaker: { failureThreshold: 100 } })
    await rf(URL_A)
    expect(rf.snapshot().breakers[0]!.nextProbeAt).toBe(Date.now() + 5000)

    const off = make(statusTransport([429, { 'retry-after': '5' }]).fetch, { breaker: { failureThreshold: 100, retryAfter: false } })
    await off.rf(URL_A)
    expect(off.rf.breaker(KEY)!.state).toBe('closed')
  })
})

describe('manual control', () => {
  it('open(ms) forces open until ms pass, then half-open; open() stays until close()', async () => {
    const t = statusTransport(200)
    const { rf, changes } = make(t.fetch)
    await rf(URL_A)
    const b = rf.breaker(KEY)!
    b.open(500)
    expect(b.state).toBe('forced-open')
    expect((await rf(URL_A).catch((e) => e)).retryAfter).toBe(500)
    vi.advanceTimersByTime(500)
    expect(b.state).toBe('half-open')
    b.open()
    const error = await rf(URL_A).catch((e) => e)
    expect(error).toBeInstanceOf(CircuitOpenError)
    expect(error.retryAfter).toBeUndefined()
    vi.advanceTimersByTime(10 * 86_400_000)
    expect(b.state).toBe('forced-open')
    b.close()
    expect((await rf(URL_A)).status).toBe(200)
    expect(changes).toEqual(['closed>forced-open', 'forced-open>half-open', 'half-open>forced-open', 'forced-open>closed'])
    expect(() => b.open(-1)).toThrow(new RangeError('breaker.open(ms) must be a positive number, got -1'))
  })

  it('disable() lets everything through and records nothing; reset() clears counters', async () => {
    const t = statusTransport(500)
    const { rf } = make(t.fetch, { breaker: { failureThreshold: 1 } })
    await rf(URL_A)
    const b = rf.breaker(KEY)!
    await rf(URL_A).catch(() => {})
    expect(rf.snapshot().breakers[0]!.rejected).toBe(1)
    b.disable()
    for (let i = 0; i < 5; i++) expect((await rf(URL_A)).status).toBe(500)
    expect(b.state).toBe('disabled')
    b.reset()
    expect(rf.snapshot().breakers[0]).toMatchObject({ state: 'closed', rejected: 0, transitions: 0, calls: 0 })
  })
  it('close() or reset() of a breaker that is closed already moves nothing: no statechange, no transition, and its calls still go through', async () => {
    const t = statusTransport(200)
    const { rf, changes } = make(t.fetch, { breaker: { failureThreshold: 1 } })
    expect((await rf(URL_A)).status).toBe(200)
    const b = rf.breaker(KEY)!
    b.close()
    expect((await rf(URL_A)).status).toBe(200)
    b.reset()
    expect((await rf(URL_A)).status).toBe(200)
    expect(changes).toEqual([])
    expect(rf.snapshot().breakers[0]).toMatchObject({ state: 'closed', rejected: 0, transitions: 0 })
  })
})
