import fc from 'fast-check'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { createResilientFetch } from '../src/index'
import { BulkheadRejectedError, CircuitOpenError, TimeoutError } from '../src/errors'
import type { BreakerState, ResilientFetch, ResilientFetchOptions } from '../src/types'
import { seedMathRandom } from './model-helpers.js'

// Flushing with the real setImmediate drains every microtask the pipeline queued, whatever the fake clock does.
const realSetImmediate = setImmediate
const flush = () => new Promise<void>((resolve) => realSetImmediate(resolve))

// PROPERTY_RUNS=20000 for a longer soak.
const RUNS = Number(process.env.PROPERTY_RUNS ?? 1500)

const KEYS = ['http://a.test', 'http://b.test'] as const
const METHODS = ['GET', 'GET', 'PUT', 'POST', 'DELETE'] as const

type Command =
  | { kind: 'start'; key: number; method: (typeof METHODS)[number]; controller: boolean; count: number }
  | { kind: 'resolve'; pick: number; status: 200 | 500 | 503 | 429; retryAfter: string | undefined }
  | { kind: 'reject'; pick: number }
  | { kind: 'abort'; pick: number; custom: boolean }
  | { kind: 'advance'; ms: number }
  | { kind: 'manual'; key: number; op: 'open' | 'close' | 'reset' | 'disable'; ms: number | undefined }

const command: fc.Arbitrary<Command> = fc.oneof(
  { weight: 4, arbitrary: fc.record({
      kind: fc.constant('start' as const),
      key: fc.nat(1),
      method: fc.constantFrom(...METHODS),
      controller: fc.boolean(),
      // Several calls at once fill the bulkhead queue, so queued calls meet every breaker state.
      count: fc.constantFrom(1, 1, 1, 2, 4),
    }) },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('resolve' as const),
      pick: fc.nat(),
      status: fc.constantFrom(200 as const, 200 as const, 500 as const, 503 as const, 429 as const),
      // 'date': an HTTP-date 1.5 s ahead of the fake clock; 'soon': unreadable, ignored.
      retryAfter: fc.option(fc.constantFrom('0', '1', '2', 'date', 'soon'), { nil: undefined }),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('reject' as const), pick: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('abort' as const), pick: fc.nat(), custom: fc.boolean() }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 1, max: 3_000 }) }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('manual' as const),
      key: fc.nat(1),
      op: fc.constantFrom('open' as const, 'close' as const, 'reset' as const, 'disable' as const),
      ms: fc.option(fc.integer({ min: 1, max: 2_000 }), { nil: undefined }),
    }),
  },
)

interface Config {
  maxConcurrent: number
  maxQueue: number
  queueTimeout: number
  probes: number
  successesToClose: number
  failureThreshold: number
  window: 'consecutive' | { type: 'count'; size: number } | { type: 'time'; duration: number }
  openDuration: number | { base: number; max: number }
  attempt: number | false
  total: number | false
  limit: number
  backoffBase: number
  budget: boolean
  seed: number
}

const config: fc.Arbitrary<Config> = fc.record({
  maxConcurrent: fc.integer({ min: 1, max: 3 }),
  maxQueue: fc.integer({ min: 0, max: 3 }),
  queueTimeout: fc.integer({ min: 10, max: 2_000 }),
  probes: fc.integer({ min: 1, max: 2 }),
  successesToClose: fc.integer({ min: 1, max: 2 }),
  failureThreshold: fc.integer({ min: 1, max: 3 }),
  window: fc.oneof(
    fc.constant('consecutive' as const),
    // At least the largest failureThreshold: a smaller count window is refused at creation.
    fc.record({ type: fc.constant('count' as const), size: fc.integer({ min: 3, max: 5 }) }),
    fc.record({ type: fc.constant('time' as const), duration: fc.integer({ min: 100, max: 5_000 }) }),
  ),
  openDuration: fc.oneof(
    fc.integer({ min: 50, max: 2_000 }),
    fc.record({ base: fc.integer({ min: 50, max: 500 }), max: fc.integer({ min: 500, max: 3_000 }) }),
  ),
  attempt: fc.oneof(fc.constant(false as const), fc.integer({ min: 50, max: 2_000 })),
  total: fc.oneof(fc.constant(false as const), fc.integer({ min: 100, max: 6_000 })),
  limit: fc.integer({ min: 0, max: 2 }),
  backoffBase: fc.integer({ min: 1, max: 500 }),
  budget: fc.boolean(),
  seed: fc.integer(),
})

/** A transport call the schedule has not settled yet. */
interface Flight {
  callId: number
  key: string
  /** The breaker episode (count of state changes of the key) it was admitted in. */
  episode: number
  /** The breaker episode (count of state changes of the key) it was admitted in, when admitted in half-open. */
  probeEpisode: number | undefined
  settle(outcome: Response | Error): void
}

interface CallRecord {
  id: number
  method: string
  controller: AbortController | undefined
  abortReason: unknown
  settlements: number
  outcome: { ok: true; value: Response } | { ok: false; error: unknown } | undefined
  /** What the transport gave each attempt of this call, in order; undefined while in flight. */
  attempts: (Response | Error | 'aborted' | undefined)[]
  key: string
  /** When it was made, and when it settled (fake clock). */
  at: number
  settledAt: number | undefined
  /** One of its attempts was aborted in flight by the total deadline. */
  totalAborted: boolean
}

const MANUAL_TARGET = { open: 'forced-open', close: 'closed', reset: 'closed', disable: 'disabled' } as const
// Edges the breaker may take on its own; every other change must come from a manual control call.
const AUTOMATIC_EDGES = new Set(['closed>open', 'open>half-open', 'half-open>open', 'half-open>closed', 'forced-open>half-open'])

async function runSchedule(cfg: Config, commands: Command[]): Promise<void> {
  vi.clearAllTimers()
  seedMathRandom(cfg.seed)
  const violations: string[] = []
  const flights: Flight[] = []
  const inFlight = new Map<string, number>()
  const state = new Map<string, BreakerState>()
  const episode = new Map<string, number>()
  const calls: CallRecord[] = []
  const networkErrors = new Set<Error>()
  /** Probe requests the transport saw, by key and half-open episode (never decremented). */
  const probeStarts = new Map<string, number>()
  /** Refusals in half-open with a free slot as the transport sees it: checked once the flush is over. */
  let halfOpenRefusals: { key: string; episode: number; inFlight: number; starts: number }[] = []
  let manual: { key: string; op: keyof typeof MANUAL_TARGET } | undefined
  let deadlineAborts = 0
  let attemptAborts = 0
  /** `timeout` events, by scope. */
  const timeoutEvents = { attempt: 0, total: 0 }
  const changes: { key: string; to: BreakerState }[] = []
  /** Set while the outcome of an attempt admitted in an earlier breaker episode is being judged. */
  let stale: { key: string; since: number } | undefined

  const transport = (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url
    const key = new URL(url).origin
    const callId = Number(new Headers(init?.headers).get('x-call'))
    const call = calls[callId]!
    const n = inFlight.get(key) ?? 0
    if (n >= cfg.maxConcurrent) violations.push(`${n + 1} transport calls in flight for ${key}, maxConcurrent ${cfg.maxConcurrent}`)
    let probeEpisode: number | undefined
    if (state.get(key) === 'half-open') {
      probeEpisode = episode.get(key) ?? 0
      probeStarts.set(`${key} ${probeEpisode}`, (probeStarts.get(`${key} ${probeEpisode}`) ?? 0) + 1)
      const probes = flights.filter((f) => f.key === key && f.probeEpisode === probeEpisode).length
      if (probes >= cfg.probes) violations.push(`${probes + 1} probes in flight for ${key} in one half-open episode, probes ${cfg.probes}`)
    }
    inFlight.set(key, n + 1)
    const index = call.attempts.push(undefined) - 1
    return new Promise<Response>((resolve, reject) => {
      const signal = init?.signal ?? undefined
      const flight: Flight = {
        callId,
        key,
        episode: episode.get(key) ?? 0,
        probeEpisode,
        settle(outcome) {
          flights.splice(flights.indexOf(flight), 1)
          inFlight.set(key, inFlight.get(key)! - 1)
          signal?.removeEventListener('abort', onAbort)
          if (outcome instanceof Response) {
            call.attempts[index] = outcome
            resolve(outcome)
          } else {
            call.attempts[index] = outcome
            reject(outcome)
          }
        },
      }
      // Like fetch: an aborted signal rejects with its reason.
      const onAbort = () => {
        if (signal!.reason instanceof TimeoutError) {
          deadlineAborts++
          if (signal!.reason.scope === 'attempt') attemptAborts++
          else call.totalAborted = true
        }
        flight.settle(signal!.reason)
        call.attempts[index] = 'aborted'
      }
      flights.push(flight)
      if (signal?.aborted) return onAbort()
      signal?.addEventListener('abort', onAbort, { once: true })
    })
  }

  const options: ResilientFetchOptions = {
    fetch: transport,
    fallback: false,
    breaker: {
      window: cfg.window,
      failureThreshold: cfg.failureThreshold,
      openDuration: cfg.openDuration,
      halfOpen: { probes: cfg.probes, successesToClose: cfg.successesToClose },
    },
    bulkhead: { maxConcurrent: cfg.maxConcurrent, maxQueue: cfg.maxQueue, queueTimeout: cfg.queueTimeout },
    // An attempt deadline written past the total one is refused at creation; the default attempt (10 s) is past it still.
    timeout: cfg.attempt !== false && cfg.total !== false && cfg.attempt > cfg.total ? { total: cfg.total } : { attempt: cfg.attempt, total: cfg.total },
    retry: { limit: cfg.limit, backoff: { base: cfg.backoffBase }, ...(cfg.budget ? {} : { budget: false }) },
  }
  const rf: ResilientFetch = createResilientFetch(options)
  rf.addEventListener('statechange', (event) => {
    const { key, from, to } = event.detail
    const known = state.get(key) ?? 'closed'
    if (from !== known) violations.push(`statechange ${from}→${to} for ${key}, but the last state seen was ${known}`)
    if (from === to) violations.push(`statechange ${from}→${to} for ${key} changes nothing`)
    if (manual !== undefined && manual.key === key) {
      if (to !== MANUAL_TARGET[manual.op]) violations.push(`breaker.${manual.op}() moved ${key} ${from}→${to}`)
    } else if (!AUTOMATIC_EDGES.has(`${from}>${to}`)) {
      violations.push(`illegal edge ${from}→${to} for ${key}`)
    }
    state.set(key, to)
    changes.push({ key, to })
    episode.set(key, (episode.get(key) ?? 0) + 1)
  })

  rf.addEventListener('reject', (event) => {
    const { key, reason } = event.detail
    if (reason !== 'open') return
    const s = state.get(key) ?? 'closed'
    const current = episode.get(key) ?? 0
    const probes = flights.filter((f) => f.key === key && f.probeEpisode === current).length
    // The breaker refuses only while open, or in half-open with every probe slot taken.
    if (s === 'closed' || s === 'disabled') violations.push(`${key} refused a call while ${s}`)
    // A probe the breaker admitted may reach the transport a few microtasks later (its gates after the breaker settle
    // first): the slot it holds is counted once the flush is over, from the probes that started meanwhile.
    if (s === 'half-open' && probes < cfg.probes) halfOpenRefusals.push({ key, episode: current, inFlight: probes, starts: probeStarts.get(`${key} ${current}`) ?? 0 })
  })

  rf.addEventListener('timeout', (event) => {
    const { key, scope, timeout } = event.detail
    timeoutEvents[scope]++
    if (timeout !== (scope === 'attempt' ? cfg.attempt : cfg.total)) violations.push(`timeout event ${scope} ${timeout} for ${key}: not the configured deadline`)
    // Reported before the call settles: some call of the key is still pending past its total deadline.
    const due = cfg.total !== false && calls.some((c) => c.outcome === undefined && c.key === key && Date.now() >= c.at + (cfg.total as number))
    if (scope === 'total' && !due) violations.push(`timeout event total for ${key} at ${Date.now()} with no call pending past its total deadline`)
  })

  const checkQuiescent = (when: string) => {
    for (const r of halfOpenRefusals) {
      const held = r.inFlight + (probeStarts.get(`${r.key} ${r.episode}`) ?? 0) - r.starts
      if (held < cfg.probes) violations.push(`${when}: ${r.key} refused a call in half-open with ${held}/${cfg.probes} probes in flight or admitted`)
    }
    halfOpenRefusals = []
    const snap = rf.snapshot()
    for (const b of snap.bulkheads) {
      const flying = inFlight.get(b.key) ?? 0
      if (b.active !== flying) violations.push(`${when}: bulkhead ${b.key} active ${b.active}, transport calls in flight ${flying}`)
      if (b.active > cfg.maxConcurrent) violations.push(`${when}: bulkhead ${b.key} active ${b.active} > ${cfg.maxConcurrent}`)
      if (b.queued > cfg.maxQueue) violations.push(`${when}: bulkhead ${b.key} queued ${b.queued} > ${cfg.maxQueue}`)
      // FIFO and work-conserving: nobody waits while a permit is free.
      if (b.queued > 0 && b.active < cfg.maxConcurrent) violations.push(`${when}: bulkhead ${b.key} has ${b.queued} waiting with ${b.active}/${cfg.maxConcurrent} active`)
    }
    for (const c of calls) {
      if (c.settlements > 1) violations.push(`${when}: call ${c.id} settled ${c.settlements} times`)
      if (c.abortReason !== undefined && c.outcome === undefined) violations.push(`${when}: call ${c.id} still pending after its user abort`)
    }
    if (violations.length > 0) throw new Error(violations.join('\n'))
  }

  const pendingCalls = () => calls.filter((c) => c.outcome === undefined)

  const start = (cmd: Extract<Command, { kind: 'start' }>) => {
    const id = calls.length
    const record: CallRecord = {
      id,
      method: cmd.method,
      controller: cmd.controller ? new AbortController() : undefined,
      abortReason: undefined,
      settlements: 0,
      outcome: undefined,
      attempts: [],
      key: KEYS[cmd.key],
      at: Date.now(),
      settledAt: undefined,
      totalAborted: false,
    }
    calls.push(record)
    const init: RequestInit = { method: cmd.method, headers: { 'x-call': String(id) }, signal: record.controller?.signal }
    if (cmd.method !== 'GET' && cmd.method !== 'DELETE') init.body = `body ${id}`
    rf(`${KEYS[cmd.key]}/r/${id}`, init).then(
      (value) => {
        record.settlements++
        record.settledAt = Date.now()
        record.outcome = { ok: true, value }
      },
      (error: unknown) => {
        record.settlements++
        record.settledAt = Date.now()
        record.outcome = { ok: false, error }
      },
    )
  }

  for (const cmd of commands) {
    switch (cmd.kind) {
      case 'start':
        for (let i = 0; i < cmd.count; i++) start(cmd)
        break
      case 'resolve': {
        const flight = flights[cmd.pick % Math.max(1, flights.length)]
        if (flight === undefined) break
        const retryAfter = cmd.retryAfter === 'date' ? new Date(Date.now() + 1_500).toUTCString() : cmd.retryAfter
        const headers = retryAfter === undefined ? undefined : { 'retry-after': retryAfter }
        if (flight.episode !== (episode.get(flight.key) ?? 0)) stale = { key: flight.key, since: changes.length }
        flight.settle(new Response(null, { status: cmd.status, headers }))
        break
      }
      case 'reject': {
        const flight = flights[cmd.pick % Math.max(1, flights.length)]
        if (flight === undefined) break
        const error = new TypeError('fetch failed', { cause: new Error('ECONNRESET') })
        networkErrors.add(error)
        if (flight.episode !== (episode.get(flight.key) ?? 0)) stale = { key: flight.key, since: changes.length }
        flight.settle(error)
        break
      }
      case 'abort': {
        const open = calls.filter((c) => c.controller !== undefined && c.abortReason === undefined)
        const target = open[cmd.pick % Math.max(1, open.length)]
        if (target === undefined) break
        const reason = cmd.custom ? { custom: target.id } : new DOMException('This operation was aborted', 'AbortError')
        // Only a call still pending must reject with the reason; a settled one keeps its outcome.
        target.abortReason = target.outcome === undefined ? reason : null
        target.controller!.abort(reason)
        break
      }
      case 'advance':
        await vi.advanceTimersByTimeAsync(cmd.ms)
        break
      case 'manual': {
        const control = rf.breaker(KEYS[cmd.key])
        if (control === undefined) break
        manual = { key: KEYS[cmd.key], op: cmd.op }
        if (cmd.op === 'open') control.open(cmd.ms)
        else control[cmd.op]()
        manual = undefined
        break
      }
    }
    await flush()
    if (stale !== undefined) {
      // Nothing else in this flush can open the breaker: only the stale outcome could have.
      const moved = changes.slice(stale.since).find((c) => c.key === stale!.key && c.to === 'open')
      if (moved) violations.push(`an outcome admitted before the breaker of ${stale.key} changed state moved it to open`)
      stale = undefined
    }
    checkQuiescent(`after ${JSON.stringify(cmd)}`)
  }

  // Drain: answer every transport call with 200 and run the clock only while some call is still pending.
  for (let round = 0; round < 10_000; round++) {
    while (flights.length > 0) flights[0]!.settle(new Response(null, { status: 200 }))
    await flush()
    checkQuiescent(`draining, round ${round}`)
    if (flights.length === 0 && pendingCalls().length === 0) break
    // Stuck: a pending call with nothing left that could move it; the assertions below name it.
    if (flights.length === 0 && vi.getTimerCount() === 0) break
    if (flights.length === 0) await vi.advanceTimersToNextTimerAsync()
    await flush()
  }

  expect(pendingCalls().map((c) => c.id), 'calls never settled').toEqual([])
  expect(vi.getTimerCount(), 'timers left after every call settled').toBe(0)
  const snap = rf.snapshot()
  for (const b of snap.bulkheads) {
    expect(b.active, `bulkhead ${b.key} active after everything settled`).toBe(0)
    expect(b.queued, `bulkhead ${b.key} queued after everything settled`).toBe(0)
  }

  // Totals count calls: each ends as a success, a failure (it reached the network), a rejection (it never did), or a user abort.
  const aborted = calls.filter((c) => c.abortReason !== undefined && c.abortReason !== null).length
  const successes = calls.filter((c) => c.outcome!.ok && (c.outcome as { value: Response }).value.status < 400).length
  const rejected = calls.filter((c) => !c.outcome!.ok && c.attempts.length === 0 && !(c.abortReason !== undefined && c.abortReason !== null)).length
  expect(snap.totals.requests).toBe(calls.length)
  expect(snap.totals.successes, 'totals.successes').toBe(successes)
  expect(snap.totals.rejected, 'totals.rejected').toBe(rejected)
  expect(snap.totals.failures, 'totals.failures').toBe(calls.length - aborted - successes - rejected)
  // Retries count attempts after the first that reached the transport (none of a retry refused or aborted before it).
  const madeRetries = calls.reduce((sum, c) => sum + Math.max(0, c.attempts.length - 1), 0)
  expect(snap.totals.retries, 'totals.retries: attempts after the first that reached the transport').toBe(madeRetries)
  // Timeouts count attempts that hit a deadline, each once with its event: aborted in flight (the transport saw the
  // abort), or cut by the total deadline before the network (queued for a permit), which the transport never sees.
  expect(snap.totals.timeouts, 'totals.timeouts: one timeout event each').toBe(timeoutEvents.attempt + timeoutEvents.total)
  expect(timeoutEvents.attempt, 'attempt-scope timeouts: attempts the attempt deadline aborted').toBe(attemptAborts)
  const cuts = timeoutEvents.total - (deadlineAborts - attemptAborts)
  const ended = (c: CallRecord) => !(c.abortReason !== undefined && c.abortReason !== null)
  // Every call that never reached the network and rejected with TimeoutError was cut once...
  const cutBefore = calls.filter((c) => ended(c) && c.attempts.length === 0 && !c.outcome!.ok && c.outcome!.error instanceof TimeoutError).length
  expect(cuts, 'total-scope timeouts before the network: at least the calls rejected so').toBeGreaterThanOrEqual(cutBefore)
  // ...and no call more than once: a cut ends its call at its total deadline, one the transport did not abort.
  const cutAtMost = cfg.total === false ? 0 : calls.filter((c) => ended(c) && !c.totalAborted && c.settledAt! >= c.at + (cfg.total as number)).length
  expect(cuts, 'total-scope timeouts before the network: at most one per call that ended at its deadline').toBeLessThanOrEqual(cutAtMost)

  for (const c of calls) {
    expect(c.settlements, `call ${c.id} settlements`).toBe(1)
    const attempts = c.attempts.length
    if (c.method === 'POST') expect(attempts, `POST call ${c.id} attempts`).toBeLessThanOrEqual(1)
    expect(attempts, `call ${c.id} attempts`).toBeLessThanOrEqual(cfg.limit + 1)
    const outcome = c.outcome!
    const last = c.attempts[attempts - 1]
    if (c.abortReason !== undefined && c.abortReason !== null) {
      expect(outcome.ok, `call ${c.id} aborted while pending`).toBe(false)
      expect((outcome as { error: unknown }).error, `call ${c.id} rejects with its signal's reason`).toBe(c.abortReason)
      continue
    }
    if (outcome.ok) {
      // The call ends with its last real outcome: the very Response the transport gave its last attempt.
      expect(outcome.value, `call ${c.id} resolves with its last attempt's Response`).toBe(last)
      continue
    }
    const error = outcome.error
    if (error instanceof CircuitOpenError || error instanceof BulkheadRejectedError) {
      expect(attempts, `call ${c.id} rejected with ${error.name} after reaching the network`).toBe(0)
    } else if (error instanceof TimeoutError) {
      if (error.scope === 'attempt') expect(cfg.attempt, `call ${c.id} attempt timeout`).not.toBe(false)
      else expect(cfg.total, `call ${c.id} total timeout`).not.toBe(false)
      expect(error.timeout).toBe(error.scope === 'attempt' ? cfg.attempt : cfg.total)
    } else if (error instanceof TypeError && networkErrors.has(error)) {
      // A network error surfaces as the transport's own TypeError, from one of this call's attempts.
      expect(c.attempts, `call ${c.id} network error is one of its own`).toContain(error)
    } else {
      throw new Error(`call ${c.id} rejected with an unexpected ${String(error)}`)
    }
  }
}

describe('pipeline properties over random schedules', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] })
  })
  afterEach(() => {
    vi.restoreAllMocks()
    vi.useRealTimers()
  })

  // The one path random schedules rarely reach: calls queued before the breaker opened meet a full half-open.
  it('refuses a queued call admitted in half-open once the probe slot is taken', async () => {
    const flights: { url: string; resolve(r: Response): void }[] = []
    const transport = (input: RequestInfo | URL) =>
      new Promise<Response>((resolve) => flights.push({ url: String(input), resolve }))
    const rf = createResilientFetch({
      fetch: transport,
      fallback: false,
      retry: false,
      timeout: false,
      bulkhead: { maxConcurrent: 2, maxQueue: 2, queueTimeout: 10_000 },
      breaker: { halfOpen: { probes: 1 } },
    })
    const settled = (p: Promise<Response>) => p.then((r) => r.status, (e: Error) => e.name)
    const a1 = settled(rf('http://a.test/a1'))
    const a2 = settled(rf('http://a.test/a2'))
    const c = settled(rf('http://a.test/c'))
    const d = settled(rf('http://a.test/d'))
    await flush()
    expect(rf.snapshot().bulkheads[0]).toMatchObject({ active: 2, queued: 2 })
    rf.breaker('http://a.test')!.open(100)
    await vi.advanceTimersByTimeAsync(100)
    flights[0]!.resolve(new Response(null, { status: 200 }))
    await flush()
    expect(flights.map((f) => f.url)).toEqual(['http://a.test/a1', 'http://a.test/a2', 'http://a.test/c'])
    expect(rf.breaker('http://a.test')!.state).toBe('half-open')
    flights[1]!.resolve(new Response(null, { status: 200 }))
    await flush()
    expect(flights).toHaveLength(3)
    expect(await d).toBe('CircuitOpenError')
    flights[2]!.resolve(new Response(null, { status: 200 }))
    expect([await a1, await a2, await c]).toEqual([200, 200, 200])
    expect(rf.breaker('http://a.test')!.state).toBe('closed')
    expect(rf.snapshot().bulkheads[0]).toMatchObject({ active: 0, queued: 0 })
    expect(vi.getTimerCount()).toBe(0)
  })

  it('keeps bulkhead, half-open, settlement, edge and timer invariants', async () => {
    await fc.assert(
      fc.asyncProperty(config, fc.array(command, { minLength: 1, maxLength: 80, size: 'max' }), (cfg, commands) => runSchedule(cfg, commands)),
      // No time limit, here or on the test: every run is bounded by its commands and the drain's rounds (it awaits only
      // the fake clock and flushes, never the real one), so it cannot hang. A limit only made a slow machine fail: with
      // markInterruptAsFailure, a passing property cut short at 90 s failed, though no run had. A failing run shrinks
      // to its end and prints its counterexample and seed.
      { numRuns: RUNS },
    )
  }, 0)
})

describe('pipeline properties: counterexamples kept', () => {
  beforeEach(() => vi.useFakeTimers({ now: 1_000_000 }))
  afterEach(() => vi.useRealTimers())
  // Two queued calls let in at once as a forced open ends: the first takes the one probe slot, the second is
  // refused before the probe's request reaches the transport. Found by a CI run (seed -2116433204).
  it('a probe admitted before a refusal holds its slot though it reaches the transport later', async () => {
    const cfg: Config = {
      ...{ maxConcurrent: 2, maxQueue: 2, queueTimeout: 10, probes: 1, successesToClose: 1, failureThreshold: 1, window: 'consecutive' },
      ...{ openDuration: { base: 50, max: 500 }, attempt: false, total: false, limit: 0, backoffBase: 1, budget: false, seed: 0 },
    }
    const cmds: Command[] = [
      { kind: 'start', key: 1, method: 'GET', controller: false, count: 4 },
      { kind: 'manual', key: 1, op: 'open', ms: 1 },
      { kind: 'advance', ms: 1 },
      { kind: 'start', key: 0, method: 'GET', controller: false, count: 1 },
    ]
    await runSchedule(cfg, cmds)
  })
})
