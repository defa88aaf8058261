import fc from 'fast-check'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { createResilientFetch, CircuitOpenError } from '../src/index.js'
import { BreakerCoordinator } from '../src/worker/coordinator.js'
import { FleetBreaker, LEGAL_EDGES, REPORT_GRACE, type FleetState } from '../src/worker/fleet.js'
import { readMessage, type CoordinatorAnswer, type FleetOptions } from '../src/worker/protocol.js'
import { durableObjectShare, type CoordinatorNamespace } from '../src/worker/share.js'
import { memoryNamespace, memoryState } from './coordinator-fakes.js'
import { backgroundWork, controlledTransport, flush, statusTransport } from './helpers.js'

const OPTIONS: FleetOptions = { failureThreshold: 6, window: 10_000, openDuration: 1_000, probes: 2, successesToClose: 1, minReporters: 1 }

describe('FleetBreaker', () => {
  it('opens on the failures of the whole fleet within the window', () => {
    const b = new FleetBreaker(OPTIONS, 0)
    b.report(0, 2)
    b.report(1, 2)
    expect(b.state).toBe('closed')
    b.report(2, 2)
    expect(b.view(2)).toEqual({ state: 'open', at: 2, openedAt: 2, openUntil: 1_002 })
    expect(b.alarmAt).toBe(1_002)
  })

  it('forgets failures older than the window', () => {
    const b = new FleetBreaker(OPTIONS, 0)
    b.report(0, 5)
    b.report(10_001, 1)
    expect(b.state).toBe('closed')
    expect(b.failures(10_001)).toBe(1)
  })

  it('the alarm makes it half-open; the fleet gets exactly `probes` permits; a success closes it', () => {
    const b = new FleetBreaker(OPTIONS, 0)
    b.report(0, 6)
    expect(b.acquire(500, 100)).toEqual({ granted: false, retryAt: 1_000 })
    b.alarm(1_000)
    expect(b.state).toBe('half-open')
    const grants = [b.acquire(1_000, 100), b.acquire(1_000, 100), b.acquire(1_000, 100)]
    expect(grants.map((g) => g.granted)).toEqual([true, true, false])
    expect(grants[2]).toEqual({ granted: false, retryAt: 1_000 + 100 + REPORT_GRACE })
    b.endProbe(1_050, (grants[0] as { permit: number }).permit, false)
    expect(b.view(1_050)).toEqual({ state: 'closed', at: 1_050 })
    expect(b.acquire(1_060, 100)).toEqual({ granted: true, permit: undefined })
  })

  it('a failed probe re-opens it; an aborted one only frees its permit', () => {
    const b = new FleetBreaker({ ...OPTIONS, probes: 1 }, 0)
    b.report(0, 6)
    b.alarm(1_000)
    const first = b.acquire(1_000, 100) as { permit: number }
    b.endProbe(1_010, first.permit, null)
    expect(b.state).toBe('half-open')
    const second = b.acquire(1_020, 100) as { permit: number }
    expect(second.permit).toBeGreaterThan(first.permit)
    b.endProbe(1_030, second.permit, true)
    expect(b.view(1_030)).toEqual({ state: 'open', at: 1_030, openedAt: 1_030, openUntil: 2_030 })
  })

  it('half-open with no permit out, reported failures count as when closed and open it again; with one out, the probe decides', () => {
    const b = new FleetBreaker({ ...OPTIONS, probes: 1, failureThreshold: 2, minReporters: 2 }, 0)
    b.report(0, 2, 'a')
    b.report(0, 1, 'b')
    b.alarm(1_000)
    const probe = b.acquire(1_000, 100) as { permit: number }
    b.report(1_010, 5, 'a')
    b.report(1_010, 5, 'b')
    expect(b.state).toBe('half-open')
    // The probe ended with no verdict: nobody probes for the fleet now, and the isolates that call report.
    b.endProbe(1_020, probe.permit, null)
    b.report(1_030, 2, 'a')
    expect(b.state).toBe('half-open')
    expect(b.failures(1_030)).toBe(2)
    b.report(1_040, 1, 'b')
    expect(b.view(1_040)).toEqual({ state: 'open', at: 1_040, openedAt: 1_040, openUntil: 2_040 })
  })

  it('a probe that never reports frees its permit after its ttl', () => {
    const b = new FleetBreaker({ ...OPTIONS, probes: 1 }, 0)
    b.report(0, 6)
    b.alarm(1_000)
    const lost = b.acquire(1_000, 100) as { permit: number }
    const expiry = 1_000 + 100 + REPORT_GRACE
    expect(b.acquire(expiry - 1, 100).granted).toBe(false)
    const next = b.acquire(expiry, 100)
    expect(next.granted).toBe(true)
    // The late report of the lost probe moves nothing.
    b.endProbe(expiry + 1, lost.permit, true)
    expect(b.state).toBe('half-open')
  })

  it('opens only when the failures in the window come from minReporters distinct isolates', () => {
    const b = new FleetBreaker({ ...OPTIONS, minReporters: 2 }, 0)
    b.report(0, 50, 'a')
    b.report(1_000, 50, 'a')
    expect(b.state).toBe('closed')
    expect(b.failures(1_000)).toBe(12)
    expect(b.reporters(1_000)).toBe(1)
    b.report(1_001, 1, 'b')
    expect(b.view(1_001)).toEqual({ state: 'open', at: 1_001, openedAt: 1_001, openUntil: 2_001 })
  })

  it('a reporter whose failures left the window no longer counts toward the quorum', () => {
    const b = new FleetBreaker({ ...OPTIONS, minReporters: 2 }, 0)
    b.report(0, 6, 'a')
    b.report(10_000, 1, 'b')
    expect(b.state).toBe('closed')
    expect(b.reporters(10_000)).toBe(1)
    b.report(10_001, 5, 'b')
    expect(b.state).toBe('closed')
    b.report(10_002, 1, 'c')
    expect(b.state).toBe('open')
  })

  it('a snapshot restores the window and its reporters', () => {
    const b = new FleetBreaker({ ...OPTIONS, minReporters: 2 }, 0)
    b.report(0, 3, 'a')
    b.report(10, 2, 'a')
    const r = FleetBreaker.restore(JSON.parse(JSON.stringify(b.snapshot())))
    expect(r.failures(10)).toBe(5)
    expect(r.reporters(10)).toBe(1)
    r.report(20, 1, 'b')
    expect(r.state).toBe('open')
  })

  it('a snapshot restores the same machine', () => {
    const b = new FleetBreaker(OPTIONS, 0)
    b.report(0, 6)
    b.alarm(1_000)
    b.acquire(1_000, 100)
    const r = FleetBreaker.restore(JSON.parse(JSON.stringify(b.snapshot())))
    expect(r.snapshot()).toEqual(b.snapshot())
    expect(r.acquire(1_001, 100)).toEqual(b.acquire(1_001, 100))
  })
})

type Command =
  | { t: 'report'; failures: number }
  | { t: 'acquire'; ttl: number }
  | { t: 'end'; which: number; failure: boolean | null }
  | { t: 'step'; ms: number }
  | { t: 'alarm' }
  | { t: 'evict' }

const command: fc.Arbitrary<Command> = fc.oneof(
  fc.record({ t: fc.constant('report' as const), failures: fc.integer({ min: 0, max: 4 }) }),
  fc.record({ t: fc.constant('acquire' as const), ttl: fc.integer({ min: 1, max: 3_000 }) }),
  fc.record({ t: fc.constant('end' as const), which: fc.nat(), failure: fc.constantFrom(true, false, null) }),
  fc.record({ t: fc.constant('step' as const), ms: fc.integer({ min: 0, max: 5_000 }) }),
  fc.constant({ t: 'alarm' as const }),
  fc.constant({ t: 'evict' as const }),
)

const fleetOptions: fc.Arbitrary<FleetOptions> = fc.record({
  failureThreshold: fc.integer({ min: 1, max: 8 }),
  window: fc.integer({ min: 1, max: 20_000 }),
  openDuration: fc.integer({ min: 1, max: 5_000 }),
  probes: fc.integer({ min: 1, max: 4 }),
  successesToClose: fc.integer({ min: 1, max: 3 }),
  minReporters: fc.constant(1),
})

describe('FleetBreaker properties', () => {
  it('takes only legal edges, never has more than `probes` permits out, and lets expired permits go', () => {
    fc.assert(
      fc.property(fleetOptions, fc.array(command, { maxLength: 120 }), (options, commands) => {
        const edges: string[] = []
        const onEdge = (from: FleetState, to: FleetState) => void edges.push(`${from}>${to}`)
        let t = 1_000
        let b = new FleetBreaker(options, t, onEdge)
        /** Permits granted and not yet ended, with their expiry as the model sees it. */
        let granted: { permit: number; expires: number; episode: number }[] = []
        let episode = 0
        for (const c of commands) {
          const before = b.state
          const edgesBefore = edges.length
          if (c.t === 'report') b.report(t, c.failures)
          else if (c.t === 'step') t += c.ms
          else if (c.t === 'alarm') {
            // An alarm fires at alarmAt or later, never before.
            if (b.alarmAt !== undefined) t = Math.max(t, b.alarmAt)
            b.alarm(t)
          } else if (c.t === 'evict') b = FleetBreaker.restore(JSON.parse(JSON.stringify(b.snapshot())), onEdge)
          else if (c.t === 'acquire') {
            const live = granted.filter((g) => g.episode === episode && g.expires > t).length
            const g = b.acquire(t, c.ttl)
            if (b.state === 'half-open') {
              // Granted exactly when a slot is free.
              expect(g.granted).toBe(live < options.probes)
              // A grant made by the acquire that entered half-open belongs to the new episode.
              if (g.granted) granted.push({ permit: g.permit!, expires: t + c.ttl + REPORT_GRACE, episode: episode + edges.length - edgesBefore })
              else expect(g.retryAt).toBeGreaterThan(t)
            } else if (b.state === 'closed') {
              expect(g).toEqual({ granted: true, permit: undefined })
            } else {
              expect(g).toEqual({ granted: false, retryAt: b.openUntil })
            }
          } else if (granted.length > 0) {
            const g = granted[c.which % granted.length]
            granted = granted.filter((x) => x !== g)
            const counted = b.state === 'half-open' && g.episode === episode && g.expires > t
            const state = b.state
            b.endProbe(t, g.permit, c.failure)
            // Only a live permit of this episode moves the machine.
            if (!counted && state === 'half-open' && b.state !== state) throw new Error('a stale permit moved the breaker')
          }
          for (const e of edges.slice(edgesBefore)) expect(LEGAL_EDGES.has(e)).toBe(true)
          episode += edges.length - edgesBefore
          expect(b.outstanding(t)).toBeLessThanOrEqual(options.probes)
          if (b.state === 'open') expect(b.openUntil).toBeGreaterThan(b.openedAt)
          if (before === 'closed' && b.state === 'half-open') throw new Error('closed went straight to half-open')
        }
        // However the sequence ended, once every permit's ttl has passed a half-open fleet grants again.
        const later = t + 3_000 + REPORT_GRACE + options.openDuration
        b.alarm(later)
        if (b.state === 'half-open') expect(b.acquire(later, 1).granted).toBe(true)
      }),
      { numRuns: 1000 },
    )
  })
})

describe('FleetBreaker quorum properties', () => {
  type Step = { t: 'report'; reporter: number; failures: number } | { t: 'step'; ms: number } | { t: 'evict' }
  const step: fc.Arbitrary<Step> = fc.oneof(
    { weight: 4, arbitrary: fc.record({ t: fc.constant('report' as const), reporter: fc.integer({ min: 0, max: 3 }), failures: fc.integer({ min: 0, max: 5 }) }) },
    { weight: 2, arbitrary: fc.record({ t: fc.constant('step' as const), ms: fc.integer({ min: 0, max: 4_000 }) }) },
    { weight: 1, arbitrary: fc.constant({ t: 'evict' as const }) },
  )
  const quorumOptions = fc.record({
    failureThreshold: fc.integer({ min: 1, max: 10 }),
    window: fc.integer({ min: 10, max: 10_000 }),
    openDuration: fc.constant(60_000),
    probes: fc.constant(1),
    successesToClose: fc.constant(1),
    minReporters: fc.integer({ min: 1, max: 3 }),
  })

  it('opens exactly when the window holds failureThreshold failures from minReporters isolates', () => {
    fc.assert(
      fc.property(quorumOptions, fc.array(step, { maxLength: 80 }), (options, steps) => {
        let t = 5_000
        let b = new FleetBreaker(options, t)
        const reports: { at: number; reporter: string; n: number }[] = []
        const bucket = options.window / 10
        for (const s of steps) {
          if (s.t === 'step') t += s.ms
          else if (s.t === 'evict') b = FleetBreaker.restore(JSON.parse(JSON.stringify(b.snapshot())))
          else {
            b.report(t, s.failures, `isolate-${s.reporter}`)
            if (s.failures > 0) reports.push({ at: t, reporter: `isolate-${s.reporter}`, n: s.failures })
            // Surely in the window: newer than window minus one bucket; possibly in it: newer than window plus one bucket.
            const surely = reports.filter((r) => r.at > t - options.window + bucket)
            const possibly = reports.filter((r) => r.at > t - options.window - bucket)
            const sum = (rs: typeof reports) => rs.reduce((a, r) => a + r.n, 0)
            const distinct = (rs: typeof reports) => new Set(rs.map((r) => r.reporter)).size
            if (b.state === 'open') {
              // Never opens without the quorum (a single isolate can never open it when minReporters > 1).
              expect(distinct(possibly)).toBeGreaterThanOrEqual(options.minReporters)
              expect(sum(possibly)).toBeGreaterThanOrEqual(options.failureThreshold)
              return
            }
            // And opens as soon as the quorum and the threshold are surely in the window.
            expect(distinct(surely) >= options.minReporters && sum(surely) >= options.failureThreshold).toBe(false)
          }
        }
      }),
      { numRuns: 1000 },
    )
  })

  it('one isolate alone never opens the fleet when minReporters > 1, whatever it reports', () => {
    fc.assert(
      fc.property(quorumOptions.filter((o) => o.minReporters > 1), fc.array(fc.tuple(fc.nat(10_000), fc.nat(1_000)), { maxLength: 60 }), (options, reports) => {
        let t = 0
        const b = new FleetBreaker(options, t)
        for (const [ms, failures] of reports) b.report((t += ms), failures, 'the-bad-path')
        expect(b.state).toBe('closed')
      }),
    )
  })
})

describe('readMessage', () => {
  it('accepts a full message and rejects malformed ones', () => {
    expect(readMessage({ options: OPTIONS, reporter: 'r1', failures: 2, ends: [[3, true], [4, null]], acquire: 100 })).toEqual({
      options: OPTIONS,
      reporter: 'r1',
      failures: 2,
      ends: [
        [3, true],
        [4, null],
      ],
      acquire: 100,
    })
    // An isolate of an earlier version sends no minReporters: it counts as 1, as it behaved.
    const { minReporters: _, ...earlier } = OPTIONS
    expect(readMessage({ options: { ...earlier, minReporters: undefined } })).toEqual({ options: { ...earlier, minReporters: 1 } })
    for (const bad of [
      null,
      {},
      { options: { ...OPTIONS, probes: 0 } },
      { options: { ...OPTIONS, minReporters: 0 } },
      { options: OPTIONS, failures: -1 },
      { options: OPTIONS, ends: [[1, 'yes']] },
      { options: OPTIONS, acquire: 0 },
      { options: OPTIONS, reporter: 7 },
      { options: OPTIONS, reporter: 'x'.repeat(65) },
    ]) {
      expect(readMessage(bad)).toBeUndefined()
    }
  })
})

describe('BreakerCoordinator (in memory)', () => {
  it('persists its state and alarm, and an evicted object resumes from storage', async () => {
    const state = memoryState()
    const object = new BreakerCoordinator(state.ctx)
    const post = (o: BreakerCoordinator, body: unknown) => o.fetch(new Request('https://c/sync', { method: 'POST', body: JSON.stringify(body) }))
    const answer = await (await post(object, { options: OPTIONS, failures: 6 })).json()
    expect(answer.view.state).toBe('open')
    expect(state.alarm()).toBe(answer.view.openUntil)
    const resumed = new BreakerCoordinator(state.ctx)
    await Promise.resolve()
    expect((await (await post(resumed, { options: OPTIONS })).json()).view).toEqual(answer.view)
    expect((await post(resumed, { options: { ...OPTIONS, probes: 0 } })).status).toBe(400)
  })

  /** The runtime runs the alarm, which it no longer holds. */
  async function fire(state: ReturnType<typeof memoryState>, object: BreakerCoordinator): Promise<void> {
    await state.ctx.storage.deleteAlarm()
    await object.alarm()
  }

  const post = async (o: BreakerCoordinator, body: unknown) =>
    (await (await o.fetch(new Request('https://c/sync', { method: 'POST', body: JSON.stringify(body) }))).json()) as CoordinatorAnswer

  it('keeps no storage while closed with an empty window: failures are kept until they leave the window, then the alarm deletes them', async () => {
    vi.useFakeTimers({ now: 1_000_000, toFake: ['Date'] })
    try {
      const state = memoryState()
      const object = new BreakerCoordinator(state.ctx)
      for (let i = 0; i < 3; i++) await post(object, { options: OPTIONS, reporter: 'a', failures: 0 })
      expect(state.data.size).toBe(0)
      expect(state.alarm()).toBeNull()
      await post(object, { options: OPTIONS, reporter: 'a', failures: 1 })
      expect(state.data.has('breaker')).toBe(true)
      // The alarm wakes the object when the failure leaves the window (10 s, in tenths).
      expect(state.alarm()).toBe(1_010_000)
      vi.setSystemTime(state.alarm()!)
      await fire(state, object)
      expect(state.data.size).toBe(0)
      expect(state.alarm()).toBeNull()
      expect(object.fleet!.failures(Date.now())).toBe(0)
    } finally {
      vi.useRealTimers()
    }
  })

  it('a fleet that recovers deletes its storage; the object restarted afresh never closes an isolate\'s newer state', async () => {
    vi.useFakeTimers({ now: 1_000_000, toFake: ['Date'] })
    try {
      const state = memoryState()
      const object = new BreakerCoordinator(state.ctx)
      const opened = await post(object, { options: OPTIONS, reporter: 'a', failures: 6 })
      expect(opened.view.state).toBe('open')
      expect(state.data.has('breaker')).toBe(true)
      vi.setSystemTime(opened.view.openUntil!)
      await fire(state, object)
      expect(object.fleet!.state).toBe('half-open')
      const { grant } = await post(object, { options: OPTIONS, reporter: 'a', acquire: 100 })
      const closed = await post(object, { options: OPTIONS, reporter: 'a', ends: [[(grant as { permit: number }).permit, false]] })
      expect(closed.view).toEqual({ state: 'closed', at: Date.now() })
      expect(state.data.size).toBe(0)
      expect(state.alarm()).toBeNull()
      const restarted = new BreakerCoordinator(state.ctx)
      await Promise.resolve()
      expect((await post(restarted, { options: OPTIONS, reporter: 'a', failures: 0 })).view).toEqual({ state: 'closed', at: 0 })
      expect(state.data.size).toBe(0)
    } finally {
      vi.useRealTimers()
    }
  })
})

/**
 * A new isolate: the library loaded afresh, with module state of its own, its fleet reporter id among it. Instances made
 * on one module are one isolate, which the object counts once toward minReporters.
 */
async function isolate() {
  vi.resetModules()
  const [lib, worker] = await Promise.all([import('../src/index.js'), import('../src/worker/share.js')])
  return { createResilientFetch: lib.createResilientFetch, CircuitOpenError: lib.CircuitOpenError, durableObjectShare: worker.durableObjectShare }
}

describe('durableObjectShare (in memory)', () => {
  afterEach(() => {
    vi.useRealTimers()
  })

  const URL_A = 'https://a.test/x'
  const KEY = 'https://a.test'
  // Request and Response bodies in Node settle through setImmediate: leave it real.
  const FAKED = ['Date', 'setTimeout', 'clearTimeout'] as const
  const { resilience, settle } = backgroundWork()

  it('the fleet opens on combined failures and every instance learns it from its next answer', async () => {
    vi.useFakeTimers({ now: 1_000_000, toFake: [...FAKED] })
    const ns = memoryNamespace()
    const t = statusTransport(500)
    const breaker = { failureThreshold: 6, openDuration: 1_000 }
    // Three isolates, an instance in each.
    const isolates = [await isolate(), await isolate(), await isolate()]
    const fleet = isolates.map((i) => i.createResilientFetch({ fetch: t.fetch, retry: false, fallback: false, breaker, share: i.durableObjectShare(ns.namespace, { breaker }) }))
    const steps: [string, number][] = []
    for (const rf of fleet) {
      await rf(URL_A, { resilience })
      await rf(URL_A, { resilience })
      await settle()
      const object = ns.objects.get(KEY)!.fleet!
      steps.push([object.state, object.reporters(Date.now())])
    }
    // Each isolate is one more reporter; the third's failures open it (an open fleet counts none).
    expect(steps).toEqual([['closed', 1], ['closed', 2], ['open', 0]])
    expect(ns.objects.get(KEY)!.fleet!.state).toBe('open')
    // The last reporter heard it at once; the others with their next failure's report.
    expect(fleet.map((rf) => rf.breaker(KEY)!.state)).toEqual(['closed', 'closed', 'open'])
    await fleet[0](URL_A, { resilience })
    await fleet[1](URL_A, { resilience })
    await settle()
    expect(fleet.map((rf) => rf.breaker(KEY)!.state)).toEqual(['open', 'open', 'open'])
    for (const [n, rf] of fleet.entries()) await expect(rf(URL_A, { resilience })).rejects.toBeInstanceOf(isolates[n]!.CircuitOpenError)
    expect(t.mock).toHaveBeenCalledTimes(8)
  })

  it('an instance with only successes hears the fleet within syncInterval', async () => {
    vi.useFakeTimers({ now: 1_000_000, toFake: [...FAKED] })
    const ns = memoryNamespace()
    const breaker = { failureThreshold: 2, openDuration: 60_000 }
    const failing = createResilientFetch({ fetch: statusTransport(500).fetch, retry: false, fallback: false, breaker, share: durableObjectShare(ns.namespace, { breaker, minReporters: 1 }) })
    const ok = statusTransport(200)
    const healthy = createResilientFetch({ fetch: ok.fetch, retry: false, fallback: false, breaker, share: durableObjectShare(ns.namespace, { breaker, syncInterval: 2_000 }) })
    await healthy(URL_A, { resilience })
    await settle()
    const synced = ns.calls()
    await healthy(URL_A, { resilience })
    await settle()
    // Successes within syncInterval send nothing.
    expect(ns.calls()).toBe(synced)
    await failing(URL_A, { resilience })
    await failing(URL_A, { resilience })
    await settle()
    expect(ns.objects.get(KEY)!.fleet!.state).toBe('open')
    vi.advanceTimersByTime(2_000)
    await healthy(URL_A, { resilience })
    await settle()
    await expect(healthy(URL_A, { resilience })).rejects.toBeInstanceOf(CircuitOpenError)
    expect(ok.mock).toHaveBeenCalledTimes(3)
  })

  it('half-open: exactly `probes` probes cross the fleet, and the probe result closes every instance', async () => {
    vi.useFakeTimers({ now: 1_000_000, toFake: [...FAKED] })
    const ns = memoryNamespace()
    const c = controlledTransport()
    const breaker = { failureThreshold: 4, openDuration: 10_000, halfOpen: { probes: 2 } }
    const fleetBreaker = { failureThreshold: 4, openDuration: 10_000, probes: 2 }
    // Four isolates, an instance in each.
    const make = async () => {
      const i = await isolate()
      return i.createResilientFetch({ fetch: c.fetch, retry: false, fallback: false, timeout: false, breaker, share: i.durableObjectShare(ns.namespace, { breaker: fleetBreaker }) })
    }
    const fleet = [await make(), await make(), await make(), await make()]
    const fail = async (rf: (typeof fleet)[number]) => {
      const p = rf(URL_A, { resilience })
      await flush()
      c.pending.shift()!.respond(500)
      await p
      await settle()
    }
    // One failure each opens the fleet's breaker; only the last reporter hears it at once.
    for (const rf of fleet) await fail(rf)
    const object = ns.objects.get(KEY)!
    expect(object.fleet!.state).toBe('open')
    expect(fleet.map((rf) => rf.breaker(KEY)!.state)).toEqual(['closed', 'closed', 'closed', 'open'])
    // The others hear it with their next report (each still alone below the threshold).
    vi.advanceTimersByTime(2_000)
    for (const rf of fleet.slice(0, 3)) await fail(rf)
    expect(fleet.map((rf) => rf.breaker(KEY)!.state)).toEqual(['open', 'open', 'open', 'open'])
    vi.advanceTimersByTime(8_000)
    await object.alarm()
    expect(object.fleet!.state).toBe('half-open')
    const calls = fleet.map((rf) => rf(URL_A, { resilience }).then((r) => r.status, (e) => (e as Error).name))
    await settle()
    await flush()
    expect(c.pending).toHaveLength(2)
    expect(object.fleet!.outstanding(Date.now())).toBe(2)
    c.pending.shift()!.respond(200)
    c.pending.shift()!.respond(200)
    const results = await Promise.all(calls)
    await settle()
    expect(object.fleet!.state).toBe('closed')
    expect(results.filter((r) => r === 200)).toHaveLength(2)
    expect(results.filter((r) => r === 'CircuitOpenError')).toHaveLength(2)
    // The refused ones hear the close when they next ask, at most syncInterval later.
    vi.advanceTimersByTime(2_000)
    const after = fleet.map((rf) => rf(URL_A, { resilience }).then((r) => r.status, (e) => (e as Error).name))
    await settle()
    await flush()
    while (c.pending.length > 0) c.pending.shift()!.respond(200)
    expect(await Promise.all(after)).toEqual([200, 200, 200, 200])
    expect(fleet.map((rf) => rf.breaker(KEY)!.state)).toEqual(['closed', 'closed', 'closed', 'closed'])
  })

  it('half-open with the permit out, a refused instance asks the object once per syncInterval, however many calls it has', async () => {
    vi.useFakeTimers({ now: 1_000_000, toFake: [...FAKED] })
    const ns = memoryNamespace()
    const { a, b, c, object } = await halfOpenFleet(ns, ns.namespace)
    const probe = a(URL_A, { resilience })
    await turns()
    expect(c.pending).toHaveLength(1)
    // b hears the fleet is probing, and joins it.
    const first = b(URL_A, { resilience })
    await turns()
    c.pending.pop()!.respond(200)
    await first
    await settle()
    vi.advanceTimersByTime(2)
    const asked = ns.calls()
    const refused: unknown[] = []
    for (let t = 0; t < 4_000; t += 100) {
      refused.push(await b(URL_A, { resilience }).then((r) => r.status, (e) => (e as Error).name))
      await settle()
      vi.advanceTimersByTime(100)
    }
    expect(new Set(refused)).toEqual(new Set(['CircuitOpenError']))
    expect(ns.calls() - asked).toBe(2)
    c.pending.shift()!.respond(200)
    await probe
    await settle()
    expect(object.fleet!.state).toBe('closed')
  })

  it('an instance that missed the open joins a half-open fleet after its first call, instead of sending freely', async () => {
    vi.useFakeTimers({ now: 1_000_000, toFake: [...FAKED] })
    const ns = memoryNamespace()
    const breaker = { failureThreshold: 1, openDuration: 1_000 }
    const c = controlledTransport()
    const a = createResilientFetch({ fetch: c.fetch, retry: false, fallback: false, timeout: false, breaker, share: durableObjectShare(ns.namespace, { breaker, minReporters: 1 }) })
    const first = a(URL_A, { resilience })
    await flush()
    c.pending.shift()!.respond(500)
    await first
    await settle()
    vi.advanceTimersByTime(1_000)
    await ns.objects.get(KEY)!.alarm()
    const probe = a(URL_A, { resilience })
    await settle()
    await flush()
    expect(c.pending).toHaveLength(1)
    // A new isolate: its first call cannot know; its answer tells it the fleet is probing.
    const fresh = statusTransport(200)
    const b = createResilientFetch({ fetch: fresh.fetch, retry: false, fallback: false, breaker, share: durableObjectShare(ns.namespace, { breaker }) })
    expect((await b(URL_A, { resilience })).status).toBe(200)
    await settle()
    vi.advanceTimersByTime(2)
    await expect(b(URL_A, { resilience })).rejects.toBeInstanceOf(CircuitOpenError)
    expect(fresh.mock).toHaveBeenCalledTimes(1)
    c.pending.shift()!.respond(200)
    await probe
    await settle()
    expect(ns.objects.get(KEY)!.fleet!.state).toBe('closed')
  })

  it('an instance that missed the open and gets the permit is closed by its probe like the fleet, and takes the fleet\'s next open', async () => {
    vi.useFakeTimers({ now: 1_000_000, toFake: [...FAKED] })
    const ns = memoryNamespace()
    const breaker = { failureThreshold: 1, openDuration: 10_000 }
    const c = controlledTransport()
    // Three isolates, an instance in each: the quorum (minReporters 2) counts isolates.
    const make = async (fetch: typeof globalThis.fetch) => {
      const i = await isolate()
      return i.createResilientFetch({ fetch, retry: false, fallback: false, timeout: false, breaker, share: i.durableObjectShare(ns.namespace, { breaker }) })
    }
    const a = await make(c.fetch)
    const b = await make(statusTransport(500).fetch)
    const d = await make(statusTransport(500).fetch)
    const answer = async (status: number) => {
      const call = a(URL_A, { resilience }).then((r) => r.status, (e) => (e as Error).name)
      await turns()
      c.pending.shift()?.respond(status)
      const result = await call
      await settle()
      return result
    }
    // a's failure alone leaves the fleet closed (minReporters 2); b's opens it, which a does not hear.
    expect(await answer(500)).toBe(500)
    await b(URL_A, { resilience })
    await settle()
    const object = ns.objects.get(KEY)!
    expect(object.fleet!.state).toBe('open')
    vi.advanceTimersByTime(10_000)
    await object.alarm()
    // a's own open has ended too: it asks, gets the permit, and its probe's success closes the fleet and a.
    expect(await answer(200)).toBe(200)
    expect(object.fleet!.state).toBe('closed')
    expect(a.breaker(KEY)!.state).toBe('closed')
    // A ms later, b and d fail while a's call is out: the fleet opens again.
    vi.advanceTimersByTime(1)
    const out = a(URL_A, { resilience }).then((r) => r.status)
    await turns()
    await b(URL_A, { resilience })
    await d(URL_A, { resilience })
    await settle()
    expect(object.fleet!.state).toBe('open')
    c.pending.shift()!.respond(200)
    expect(await out).toBe(200)
    await settle()
    // Past syncInterval a's next call hears the open; the one after is refused and reaches no upstream.
    vi.advanceTimersByTime(2_000)
    expect(await answer(200)).toBe(200)
    const sent = c.calls.length
    expect(await answer(200)).toBe('CircuitOpenError')
    expect(c.calls.length).toBe(sent)
  })

  it('half-open with no permit out (an instance closed by hand), the failures the instances report open the fleet again', async () => {
    vi.useFakeTimers({ now: 1_000_000, toFake: [...FAKED] })
    const ns = memoryNamespace()
    const { a, b, c, object } = await halfOpenFleet(ns, ns.namespace)
    // Closed by hand, a never asks for a permit: nobody probes for the fleet, and its calls go upstream.
    a.breaker(KEY)!.close()
    const failed = a(URL_A, { resilience }).then((r) => r.status)
    await turns()
    c.pending.shift()!.respond(500)
    expect(await failed).toBe(500)
    await settle()
    expect(object.fleet!.state).toBe('open')
    // b hears it with its first answer.
    const first = b(URL_A, { resilience }).then((r) => r.status)
    await turns()
    c.pending.shift()!.respond(200)
    expect(await first).toBe(200)
    await settle()
    await expect(b(URL_A, { resilience })).rejects.toBeInstanceOf(CircuitOpenError)
  })

  it('an object that throws or hangs leaves each instance on its own breaker', async () => {
    vi.useFakeTimers({ now: 1_000_000, toFake: [...FAKED] })
    const throwing: CoordinatorNamespace = {
      idFromName: () => {
        throw new Error('no such binding')
      },
      get: (() => ({})) as never,
    }
    const hanging: CoordinatorNamespace = { idFromName: (n) => n, get: (() => ({ fetch: () => new Promise<Response>(() => {}) })) as never }
    for (const namespace of [throwing, hanging]) {
      const c = controlledTransport()
      const breaker = { failureThreshold: 2, openDuration: 1_000 }
      const rf = createResilientFetch({ fetch: c.fetch, retry: false, fallback: false, timeout: false, breaker, share: durableObjectShare(namespace, { breaker, timeout: 200 }) })
      for (let i = 0; i < 2; i++) {
        const p = rf(URL_A, { resilience })
        await flush()
        c.pending.shift()!.respond(500)
        await p
      }
      expect(rf.breaker(KEY)!.state).toBe('open')
      // A hanging object is given up on after the timeout.
      vi.advanceTimersByTime(1_000)
      await settle()
      const probe = rf(URL_A, { resilience })
      await flush()
      expect(c.pending).toHaveLength(1)
      c.pending.shift()!.respond(200)
      expect((await probe).status).toBe(200)
      expect(rf.breaker(KEY)!.state).toBe('closed')
    }
  })

  it('a report that died with its request (no answer, no timeout) does not stop the next ones', async () => {
    vi.useFakeTimers({ now: 1_000_000, toFake: [...FAKED] })
    const ns = memoryNamespace()
    let first = true
    // The first message never settles and its timeout never fires, as when workerd ends a request's waitUntil.
    const namespace: CoordinatorNamespace = {
      idFromName: (name) => name,
      get: ((id: never) => ({
        fetch: (input: string, init?: RequestInit) => {
          if (!first) return (ns.namespace.get(id) as { fetch: typeof fetch }).fetch(input, init)
          first = false
          return new Promise<Response>(() => {})
        },
      })) as never,
    }
    const breaker = { failureThreshold: 3 }
    const rf = createResilientFetch({ fetch: statusTransport(500).fetch, retry: false, fallback: false, breaker, share: durableObjectShare(namespace, { breaker, timeout: 500 }) })
    await rf(URL_A)
    await flush()
    vi.setSystemTime(Date.now() + 501)
    await rf(URL_A, { resilience })
    await settle()
    expect(ns.calls()).toBe(1)
    expect(ns.objects.get(KEY)!.fleet!.failures(Date.now())).toBe(1)
  })

  /** Lets Request and Response bodies settle (they go through setImmediate) without awaiting background work. */
  async function turns(): Promise<void> {
    for (let i = 0; i < 5; i++) {
      await new Promise((r) => setImmediate(r))
      await flush()
    }
  }

  /** Over `ns`: the next permit answer is held back, after the object granted it, until the test lets it go. */
  function latePermits(ns: ReturnType<typeof memoryNamespace>) {
    let holding = false
    let letGo: (() => void) | undefined
    const namespace: CoordinatorNamespace = {
      idFromName: (name) => name,
      get: ((id: never) => ({
        fetch: async (input: string, init?: RequestInit) => {
          const answer = await (ns.namespace.get(id) as { fetch: typeof fetch }).fetch(input, init)
          if (holding && (JSON.parse(init!.body as string) as { acquire?: number }).acquire !== undefined) {
            holding = false
            await new Promise<void>((r) => (letGo = r))
          }
          return answer
        },
      })) as never,
    }
    return { namespace, holdNext: () => void (holding = true), letGo: () => letGo!() }
  }

  /** Two instances over `namespace`; the fleet's breaker of KEY opened by `a` and now half-open. */
  async function halfOpenFleet(ns: ReturnType<typeof memoryNamespace>, namespace: CoordinatorNamespace) {
    const breaker = { failureThreshold: 1, openDuration: 1_000 }
    const c = controlledTransport()
    const make = () => createResilientFetch({ fetch: c.fetch, retry: false, fallback: false, timeout: 10_000, breaker, share: durableObjectShare(namespace, { breaker, minReporters: 1 }) })
    const a = make()
    const b = make()
    const first = a(URL_A, { resilience })
    await flush()
    c.pending.shift()!.respond(500)
    await first
    await settle()
    const object = ns.objects.get(KEY)!
    vi.advanceTimersByTime(1_000)
    await object.alarm()
    expect(object.fleet!.state).toBe('half-open')
    return { a, b, c, object }
  }

  /** b's calls: none refused, as the fleet is closed. */
  async function healthyCalls(b: ReturnType<typeof createResilientFetch>, c: ReturnType<typeof controlledTransport>): Promise<unknown[]> {
    const statuses: unknown[] = []
    for (let i = 0; i < 3; i++) {
      const call = b(URL_A, { resilience }).then((r) => r.status, (e) => (e as Error).name)
      await turns()
      while (c.pending.length > 0) c.pending.shift()!.respond(200)
      statuses.push(await call)
      await settle()
      vi.advanceTimersByTime(600)
    }
    return statuses
  }

  it('a permit that arrives after the timeout becomes the probe\'s: its success closes the fleet, no permit is left', async () => {
    vi.useFakeTimers({ now: 1_000_000, toFake: [...FAKED] })
    const ns = memoryNamespace()
    const late = latePermits(ns)
    const { a, b, c, object } = await halfOpenFleet(ns, late.namespace)
    late.holdNext()
    const probe = a(URL_A, { resilience })
    await turns()
    expect(object.fleet!.outstanding(Date.now())).toBe(1)
    // Given up on after 500 ms: the probe goes through on a's own breaker; then the permit arrives.
    await vi.advanceTimersByTimeAsync(500)
    await turns()
    expect(c.pending).toHaveLength(1)
    late.letGo()
    await turns()
    c.pending.shift()!.respond(200)
    expect((await probe).status).toBe(200)
    await settle()
    expect(object.fleet!.state).toBe('closed')
    expect(object.fleet!.outstanding(Date.now())).toBe(0)
    expect(await healthyCalls(b, c)).toEqual([200, 200, 200])
  })

  it('a permit that arrives after its probe ended carries the probe\'s result to the object at once', async () => {
    vi.useFakeTimers({ now: 1_000_000, toFake: [...FAKED] })
    const ns = memoryNamespace()
    const late = latePermits(ns)
    const { a, b, c, object } = await halfOpenFleet(ns, late.namespace)
    late.holdNext()
    const probe = a(URL_A, { resilience })
    await turns()
    await vi.advanceTimersByTimeAsync(500)
    await turns()
    c.pending.shift()!.respond(200)
    expect((await probe).status).toBe(200)
    expect(object.fleet!.state).toBe('half-open')
    late.letGo()
    await settle()
    expect(object.fleet!.state).toBe('closed')
    expect(await healthyCalls(b, c)).toEqual([200, 200, 200])
  })

  it('a failed probe reported against a late permit opens the fleet again', async () => {
    vi.useFakeTimers({ now: 1_000_000, toFake: [...FAKED] })
    const ns = memoryNamespace()
    const late = latePermits(ns)
    const { a, c, object } = await halfOpenFleet(ns, late.namespace)
    late.holdNext()
    const probe = a(URL_A, { resilience })
    await turns()
    await vi.advanceTimersByTimeAsync(500)
    await turns()
    late.letGo()
    await turns()
    c.pending.shift()!.respond(500)
    expect((await probe).status).toBe(500)
    await settle()
    expect(object.fleet!.state).toBe('open')
  })

  it('an object that hangs leaves only its own key on the local breaker: the other keys stay coordinated', async () => {
    vi.useFakeTimers({ now: 1_000_000, toFake: [...FAKED] })
    const ns = memoryNamespace()
    const HANGS = 'https://x.test'
    const namespace: CoordinatorNamespace = {
      idFromName: (name) => name,
      get: ((id: string) => ({
        fetch: (input: string, init?: RequestInit) =>
          id === HANGS ? new Promise<Response>(() => {}) : (ns.namespace.get(id as never) as { fetch: typeof fetch }).fetch(input, init),
      })) as never,
    }
    const breaker = { failureThreshold: 1, openDuration: 1_000 }
    const c = controlledTransport()
    const make = () => createResilientFetch({ fetch: c.fetch, retry: false, fallback: false, timeout: 10_000, breaker, share: durableObjectShare(namespace, { breaker, minReporters: 1 }) })
    const fleet = [make(), make()]
    for (const rf of fleet) {
      const p = rf(URL_A, { resilience })
      await flush()
      c.pending.shift()!.respond(500)
      await p
      await settle()
    }
    const object = ns.objects.get(KEY)!
    vi.advanceTimersByTime(1_000)
    await object.alarm()
    // Each instance's first message to x.test's object is given up on.
    for (const rf of fleet) {
      const p = rf(`${HANGS}/`, { resilience })
      await flush()
      c.pending.shift()!.respond(500)
      await p
    }
    await vi.advanceTimersByTimeAsync(500)
    await settle()
    const probes = fleet.map((rf) => rf(URL_A, { resilience }).then((r) => r.status, (e) => (e as Error).name))
    await turns()
    expect(c.pending.filter((p) => p.url.startsWith(KEY))).toHaveLength(1)
    c.pending.shift()!.respond(200)
    expect(await Promise.all(probes)).toEqual([200, 'CircuitOpenError'])
  })

  it('keys that only ever succeed create no storage', async () => {
    vi.useFakeTimers({ now: 1_000_000, toFake: [...FAKED] })
    const ns = memoryNamespace()
    const rf = createResilientFetch({ fetch: statusTransport(200).fetch, retry: false, fallback: false, share: durableObjectShare(ns.namespace) })
    for (let i = 0; i < 20; i++) await rf(`https://h${i}.test/x`, { resilience })
    await settle()
    expect(ns.objects.size).toBe(20)
    expect([...ns.states.values()].filter((s) => s.data.size > 0)).toHaveLength(0)
  })

  it('bad options name the option and the value', () => {
    const ns = memoryNamespace().namespace
    expect(() => durableObjectShare(undefined as never)).toThrow(/namespace must be a Durable Object namespace binding.*got undefined/)
    expect(() => durableObjectShare(ns, { timeout: 0 })).toThrow(/options\.timeout must be a positive integer, got 0/)
    expect(() => durableObjectShare(ns, { breaker: { probes: 1.5 } })).toThrow(/options\.breaker\.probes must be a positive integer, got 1\.5/)
    expect(() => durableObjectShare(ns, { ttl: 1 } as never)).toThrow(/options\.ttl is not an option/)
    expect(() => durableObjectShare(ns, { minReporters: 0 })).toThrow(/options\.minReporters must be a positive integer, got 0/)
    // The option schema's checks and messages, as createResilientFetch's.
    expect(() => durableObjectShare(ns, { syncInterval: '100' as never })).toThrow(new TypeError('durableObjectShare options.syncInterval must be a number, got "100" (a string: write 100 without quotes)'))
    expect(() => durableObjectShare(ns, { breaker: 'x' as never })).toThrow(new TypeError('durableObjectShare options.breaker must be an object, got "x"'))
  })
})
