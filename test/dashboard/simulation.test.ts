/**
 * The dashboard's logic without a browser: the simulated transport, the load generator, the
 * history behind the sparklines, and the demo defaults' promise (open within 10 s of 100 %
 * errors, all closed within 30 s of 0 %) on fake time.
 */
import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest'
import { createResilientFetch } from '../../src/index'
import type { BreakerState, CallOptions, ResilienceSnapshot, ResilientFetch, ResilientRequestInit } from '../../src/types'
import { History, HISTORY_SPAN } from '../../demo/dashboard/history'
import { RateMeter } from '../../demo/dashboard/rate'
import { DEFAULT_TRAFFIC, DEGRADING_ENDPOINT, ENDPOINTS, SCENES, sceneFromQuery } from '../../demo/dashboard/scenes'
import { createSimulatedFetch, endpointUrl, LoadGenerator, SLOW_ANSWER_MS, type EndpointCounters, type TrafficSettings } from '../../demo/dashboard/simulation'
import { DEMO_OPTIONS } from '../../demo/dashboard/sim-view'
import { sparklineMarkup } from '../../demo/dashboard/sparkline'

let lastFakeNow = 0

beforeEach(() => {
  // Each test's clock starts where the last one's stopped, never behind it: the library's clock must not step back between tests.
  vi.useFakeTimers({ now: Math.max(Date.now(), lastFakeNow) })
})

afterEach(() => {
  lastFakeNow = Date.now()
  vi.useRealTimers()
  vi.restoreAllMocks()
})

describe('simulated transport', () => {
  const settings = new Map<string, TrafficSettings>([['users', { errorRate: 0, latency: 100, rate: 1, slowShare: 0 }]])
  const simFetch = createSimulatedFetch((name) => settings.get(name))

  test('answers 200 JSON after the endpoint latency', async () => {
    vi.spyOn(Math, 'random').mockReturnValue(0.5)
    let response: Response | undefined
    void simFetch(endpointUrl('users')).then((r) => (response = r))
    await vi.advanceTimersByTimeAsync(99)
    expect(response).toBeUndefined()
    await vi.advanceTimersByTimeAsync(1)
    expect(response!.status).toBe(200)
    expect(await response!.json()).toMatchObject({ endpoint: 'users' })
  })

  test('at 100 % fails every time, as a network error or a 500', async () => {
    settings.set('orders', { errorRate: 100, latency: 10, rate: 1, slowShare: 0 })
    const outcomes = new Set<string>()
    for (let i = 0; i < 40; i++) {
      const result = simFetch(endpointUrl('orders')).then(
        (r) => `status ${r.status}`,
        (e: unknown) => (e instanceof TypeError ? 'TypeError' : `other ${String(e)}`),
      )
      await vi.advanceTimersByTimeAsync(20)
      outcomes.add(await result)
    }
    expect([...outcomes].sort()).toEqual(['TypeError', 'status 500'])
  })

  test('the slow share answers after SLOW_ANSWER_MS, the rest around the mean latency', async () => {
    settings.set('tail', { errorRate: 0, latency: 100, rate: 1, slowShare: 10 })
    const delays: number[] = []
    // One draw below the 10 % slow share, one above it; then the latency spread and the error draw.
    for (const slowDraw of [0.05, 0.5]) {
      vi.spyOn(Math, 'random').mockReturnValueOnce(slowDraw).mockReturnValue(0.5)
      const started = Date.now()
      const call = simFetch(endpointUrl('tail')).then(() => delays.push(Date.now() - started))
      await vi.advanceTimersByTimeAsync(SLOW_ANSWER_MS)
      await call
    }
    expect(delays).toEqual([SLOW_ANSWER_MS, 100])
  })

  test('rejects with the signal reason on abort and leaves no timer behind', async () => {
    const controller = new AbortController()
    const call = simFetch(endpointUrl('users'), { signal: controller.signal })
    const reason = new Error('stop')
    controller.abort(reason)
    await expect(call).rejects.toBe(reason)
    expect(vi.getTimerCount()).toBe(0)
    await expect(simFetch(endpointUrl('users'), { signal: controller.signal })).rejects.toBe(reason)
  })

  test('follows the signal of a Request', async () => {
    const controller = new AbortController()
    const call = simFetch(new Request(endpointUrl('users'), { signal: controller.signal }))
    controller.abort(new Error('gone'))
    await expect(call).rejects.toThrow('gone')
  })

  test('an unknown endpoint is a 404', async () => {
    expect((await simFetch(endpointUrl('nope'))).status).toBe(404)
  })
})

describe('load generator', () => {
  function setup(rate: number, callOptions?: () => CallOptions) {
    const settings = new Map<string, TrafficSettings>([['a', { errorRate: 0, latency: 0, rate, slowShare: 0 }]])
    const counters = new Map<string, EndpointCounters>([['a', { calls: 0, fallbacks: 0, retries: 0, hedges: 0 }]])
    const urls: string[] = []
    const inits: (ResilientRequestInit | undefined)[] = []
    const rf = ((url: string, init?: ResilientRequestInit) => {
      urls.push(url)
      inits.push(init)
      return Promise.resolve(new Response('ok'))
    }) as unknown as ResilientFetch
    return { load: new LoadGenerator(rf, settings, counters, callOptions), settings, counters, urls, inits }
  }

  test('reads the per-call options at each call, so the hedging toggle applies to the next call', async () => {
    let hedge = false
    const { load, inits } = setup(2, () => ({ hedge }))
    load.start()
    await vi.advanceTimersByTimeAsync(1_000)
    hedge = true
    await vi.advanceTimersByTimeAsync(1_000)
    load.stop()
    expect(inits.map((init) => init?.resilience?.hedge)).toEqual([false, false, true, true])
  })

  test('a call that fails for any reason but the simulated ones is reported, not swallowed', async () => {
    const errors = vi.spyOn(console, 'error').mockImplementation(() => undefined)
    const settings = new Map<string, TrafficSettings>([['a', { errorRate: 100, latency: 0, rate: 10, slowShare: 0 }]])
    const counters = new Map<string, EndpointCounters>([['a', { calls: 0, fallbacks: 0, retries: 0, hedges: 0 }]])
    const rf = createResilientFetch({ ...DEMO_OPTIONS, fetch: createSimulatedFetch((name) => settings.get(name)) })
    const load = new LoadGenerator(rf, settings, counters)
    load.start()
    await vi.advanceTimersByTimeAsync(5_000)
    // Network errors, 500s, an open breaker: all expected.
    expect(errors).not.toHaveBeenCalled()
    const broken = new LoadGenerator(rf, settings, counters, () => ({ timeout: -1 }))
    load.stop()
    broken.start()
    await vi.advanceTimersByTimeAsync(200)
    broken.stop()
    expect(errors).toHaveBeenCalled()
    expect(String(errors.mock.calls[0][0])).toMatch(/timeout/)
  })

  test('catches up on time a busy page ran its timers late, but not on a long pause', async () => {
    const { load, counters } = setup(10)
    load.start()
    // The timer fires late: 100 ms of wall time pass between ticks as if 500 ms went by.
    vi.setSystemTime(Date.now() + 400)
    await vi.advanceTimersByTimeAsync(100)
    expect(counters.get('a')!.calls).toBe(5)
    vi.setSystemTime(Date.now() + 60_000)
    await vi.advanceTimersByTimeAsync(100)
    expect(counters.get('a')!.calls).toBe(5 + 10)
    load.stop()
  })

  test('calls each endpoint at its rate, fractional rates included, and stops', async () => {
    const { load, settings, counters, urls } = setup(3)
    load.start()
    await vi.advanceTimersByTimeAsync(1_000)
    expect(counters.get('a')!.calls).toBe(3)
    expect(urls.every((url) => url === endpointUrl('a'))).toBe(true)
    settings.get('a')!.rate = 0.5
    await vi.advanceTimersByTimeAsync(4_000)
    expect(counters.get('a')!.calls).toBe(5)
    load.stop()
    expect(load.running).toBe(false)
    await vi.advanceTimersByTimeAsync(10_000)
    expect(counters.get('a')!.calls).toBe(5)
  })
})

describe('history and sparkline', () => {
  const snapshot = (state: BreakerState, failureRate: number): ResilienceSnapshot => ({
    at: 0,
    breakers: [{ key: 'k', state, calls: 10, failures: 0, slowCalls: 0, failureRate, rejected: 0, transitions: 0 }],
    bulkheads: [],
    totals: { requests: 0, successes: 0, failures: 0, rejected: 0, timeouts: 0, retries: 0, fallbacks: 0, hedges: 0, throttled: 0, coalesced: 0 },
    latencies: [],
  })

  test('keeps two minutes per key', () => {
    const history = new History()
    for (let at = 0; at <= 200_000; at += 1_000) history.record(snapshot('closed', 0), at)
    const samples = history.get('k')
    expect(samples[0].at).toBe(200_000 - HISTORY_SPAN)
    expect(samples.at(-1)!.at).toBe(200_000)
    expect(history.get('other')).toEqual([])
  })

  test('draws the failure rate and shades the periods that were not closed', () => {
    const history = new History()
    history.record(snapshot('closed', 0), 0)
    history.record(snapshot('open', 1), 60_000)
    history.record(snapshot('half-open', 0.5), 90_000)
    const svg = sparklineMarkup(history.get('k'), 120_000)
    expect(svg).toContain('<polyline class="rate"')
    expect(svg.match(/class="band band-open"/g)).toHaveLength(1)
    expect(svg.match(/class="band band-half-open"/g)).toHaveLength(1)
    expect(svg).not.toContain('band-closed')
  })

  test('a window without attempts (an open breaker sends none) is a gap in the line, not a drop to 0 %', () => {
    const history = new History()
    const at = (state: BreakerState, failureRate: number, calls: number) => ({ ...snapshot(state, failureRate), breakers: [{ ...snapshot(state, failureRate).breakers[0], calls }] })
    history.record(at('closed', 0.2, 10), 0)
    history.record(at('closed', 0.8, 10), 1_000)
    history.record(at('open', 0, 0), 2_000)
    history.record(at('open', 0, 0), 3_000)
    history.record(at('closed', 0, 3), 4_000)
    history.record(at('closed', 0, 6), 5_000)
    expect(history.get('k').map((s) => s.failureRate)).toEqual([0.2, 0.8, undefined, undefined, 0, 0])
    const svg = sparklineMarkup(history.get('k'), 120_000)
    expect(svg.match(/<polyline/g)).toHaveLength(2)
  })
})

describe('demo defaults', () => {
  test('a breaker opens within 10 s of 100 % errors, and all close within 30 s of 0 %', async () => {
    const settings = new Map(ENDPOINTS.map((name) => [name, { ...DEFAULT_TRAFFIC }]))
    const rf = createResilientFetch({ ...DEMO_OPTIONS, fetch: createSimulatedFetch((name) => settings.get(name)) })
    const counters = new Map(ENDPOINTS.map((name) => [name, { calls: 0, fallbacks: 0, retries: 0, hedges: 0 }]))
    const load = new LoadGenerator(rf, settings, counters)
    const states = () => Object.fromEntries(rf.snapshot().breakers.map((b) => [b.key, b.state]))
    load.start()
    await vi.advanceTimersByTimeAsync(5_000)
    expect(Object.values(states())).toEqual(['closed', 'closed', 'closed', 'closed'])

    for (const s of settings.values()) s.errorRate = 100
    let openAfter: number | undefined
    for (let t = 0; t <= 10_000 && openAfter === undefined; t += 100) {
      await vi.advanceTimersByTimeAsync(100)
      if (Object.values(states()).includes('open')) openAfter = t
    }
    expect(openAfter).toBeDefined()
    // Keep failing a while, so breakers have re-opened with probes failing.
    await vi.advanceTimersByTimeAsync(20_000)

    for (const s of settings.values()) s.errorRate = 0
    let closedAfter: number | undefined
    for (let t = 0; t <= 30_000 && closedAfter === undefined; t += 100) {
      await vi.advanceTimersByTimeAsync(100)
      if (Object.values(states()).every((s) => s === 'closed')) closedAfter = t
    }
    expect(closedAfter).toBeDefined()
    load.stop()
    // While open, calls were answered from the last good copies (the store answers in real time, not fake: wait for it).
    await vi.waitFor(() => expect(rf.snapshot().totals.fallbacks).toBeGreaterThan(0), { timeout: 5_000 })
  })
})

describe('scenes', () => {
  test('the page opens on one endpoint degrading: its breaker leaves closed, the others never do', async () => {
    // A seeded generator: payments fails 70 % of its answers, and an unseeded run can fail every one
    // before its breaker opens and while it probes, leaving no good copy to serve (about 1 run in 100).
    let seed = 7
    vi.spyOn(Math, 'random').mockImplementation(() => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31))
    const scene = sceneFromQuery('')
    const settings = new Map(ENDPOINTS.map((name) => [name, scene.traffic(name)]))
    const rf = createResilientFetch({ ...DEMO_OPTIONS, fetch: createSimulatedFetch((name) => settings.get(name)) })
    const counters = new Map(ENDPOINTS.map((name) => [name, { calls: 0, fallbacks: 0, retries: 0, hedges: 0 }]))
    const seen = new Map<string, Set<BreakerState>>(ENDPOINTS.map((name) => [name, new Set(['closed'])]))
    rf.addEventListener('statechange', ({ detail }) => seen.get(detail.key)!.add(detail.to))
    const load = new LoadGenerator(rf, settings, counters)
    load.start()
    await vi.advanceTimersByTimeAsync(30_000)
    load.stop()
    for (const name of ENDPOINTS) {
      if (name === DEGRADING_ENDPOINT) expect(seen.get(name)).toContain('open')
      else expect([...seen.get(name)!]).toEqual(['closed'])
    }
    // Its callers were answered from the last good copies (the store answers in real time, not fake: wait for it).
    expect(counters.get(DEGRADING_ENDPOINT)!.calls).toBeGreaterThan(0)
    await vi.waitFor(() => expect(rf.snapshot().totals.fallbacks).toBeGreaterThan(0), { timeout: 5_000 })
  })

  test('the slow tail with hedging on: the key reports p50 far below p99 first, then hedges start', async () => {
    // A seeded generator: the same share of slow answers on every run.
    let seed = 42
    vi.spyOn(Math, 'random').mockImplementation(() => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31))
    const scene = sceneFromQuery('?scene=slow-tail')
    const settings = new Map(ENDPOINTS.map((name) => [name, scene.traffic(name)]))
    const rf = createResilientFetch({ ...DEMO_OPTIONS, fetch: createSimulatedFetch((name) => settings.get(name)) })
    const counters = new Map(ENDPOINTS.map((name) => [name, { calls: 0, fallbacks: 0, retries: 0, hedges: 0 }]))
    let hedge = false
    const load = new LoadGenerator(rf, settings, counters, () => ({ hedge }))
    load.start()
    await vi.advanceTimersByTimeAsync(20_000)
    expect(rf.snapshot().totals.hedges).toBe(0)
    const users = rf.snapshot().latencies.find((entry) => entry.key === 'users')!
    expect(users.p99).toBeGreaterThan(users.p50 * 5)
    hedge = true
    await vi.advanceTimersByTimeAsync(20_000)
    load.stop()
    expect(rf.snapshot().totals.hedges).toBeGreaterThan(0)
  })

  test('?scene= picks a scene by id, anything else the default', () => {
    expect(sceneFromQuery('?scene=outage').id).toBe('outage')
    expect(sceneFromQuery('?scene=nope')).toBe(SCENES[0])
    expect(new Set(SCENES.map((scene) => scene.id)).size).toBe(SCENES.length)
    // The slow-tail scene is what makes hedging worth watching.
    expect(sceneFromQuery('?scene=slow-tail').traffic('users').slowShare).toBeGreaterThan(0)
  })
})

describe('rate meter', () => {
  test('calls per second over the last five seconds, starting over when a counter resets', () => {
    const meter = new RateMeter()
    meter.record('k', 0, 0)
    expect(meter.rate('k')).toBeUndefined()
    for (let s = 1; s <= 10; s++) meter.record('k', s * 3, s * 1_000)
    expect(meter.rate('k')).toBe(3)
    // The rate follows a change within the span.
    for (let s = 11; s <= 16; s++) meter.record('k', 30 + (s - 10) * 10, s * 1_000)
    expect(meter.rate('k')).toBe(10)
    meter.record('k', 0, 17_000)
    expect(meter.rate('k')).toBeUndefined()
    expect(meter.rate('other')).toBeUndefined()
  })
})
