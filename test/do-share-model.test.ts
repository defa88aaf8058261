import fc from 'fast-check'
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest'
import type { BreakerState, ResilientFetch } from '../src/index.js'
import { BreakerCoordinator } from '../src/worker/coordinator.js'
import { REPORT_GRACE } from '../src/worker/fleet.js'
import type { CoordinatorNamespace } from '../src/worker/share.js'
import { LOST_AFTER } from '../src/deadline.js'
import { controlledTransport, type Pending } from './helpers.js'
import { memoryState } from './coordinator-fakes.js'
import { seedMathRandom, Advance, AdvanceToProbe, Call, CallAll, flushAll, modelRun, pick } from './model-helpers.js'

/**
 * Model-based: 2 to 4 Worker isolates, each an instance on durableObjectShare over a transport the test answers, talking
 * to one BreakerCoordinator per key through a namespace whose requests wait until the test delivers them (in any order
 * across isolates) or fails them (as a Durable Object subrequest can). Random interleavings of calls, upstream answers,
 * time (the object's alarm runs once it is due), deliveries, failures, isolates going away (a probe out or not) and
 * rf.breaker() controls must keep the fleet honest: at most `probes` permitted probes of a key out across the isolates;
 * a half-open object with no permit out counts the failures reported to it, as closed; once every message is answered and the isolates have refreshed, an open fleet breaker refuses in every isolate; past a
 * lost probe's bounds some isolate probes again; at the end a healthy upstream closes the object and every isolate, and
 * no timer is left. (test/coordinator.test.ts checks each behaviour by itself.)
 */


// DO_MODEL_RUNS=2000 DO_MODEL_SEED=random for a longer soak; a fixed seed by default, so CI runs the same cases. Soaks found
// runs (DO_MODEL_SEED=1161052684 or 3833191349 with 2000 runs) where an isolate that follows the object sent while it was
// open: on its own breaker, it entered half-open and closed by its probe in one ms, and its close, dated a ms after the
// half-open, outranked the object's open decided later in that ms. Both pass since a half-open breaker keeps its open's
// date (src/breaker/breaker.ts, #to).
const RUNS = Number(process.env.DO_MODEL_RUNS ?? 200)
const SEED = process.env.DO_MODEL_SEED === 'random' ? undefined : Number(process.env.DO_MODEL_SEED ?? 20_261_207)
const T0 = 1_780_000_000_000
const KEYS = ['https://a.test', 'https://b.test'] as const
const ANSWERS = ['200', '503', 'network error'] as const
type Answer = (typeof ANSWERS)[number]
/** The share's settings (its defaults): the longest wait for the object, the refresh, the time alone after a failed call. */
const TIMEOUT = 500
const SYNC = 2_000
const RETRY = 5_000
/** The fleet breaker's failure window (the share's default). */
const WINDOW = 30_000

interface Config {
  isolates: number
  failureThreshold: number
  /** The fleet's and each isolate's open window (no growth: max = base). */
  openDuration: number
  probes: number
  minReporters: number
  /** The attempt deadline, which is also the probe permit's ttl. */
  attempt: number
  seed: number
}

const config: fc.Arbitrary<Config> = fc.record({
  isolates: fc.integer({ min: 2, max: 4 }),
  failureThreshold: fc.integer({ min: 1, max: 2 }),
  openDuration: fc.constantFrom(1_000, 10_000),
  probes: fc.integer({ min: 1, max: 2 }),
  minReporters: fc.integer({ min: 1, max: 2 }),
  attempt: fc.constantFrom(300, 1_000),
  seed: fc.integer(),
})

/** Whether a state refuses calls. */
const refuses = (state: BreakerState): boolean => state === 'open' || state === 'forced-open'

/** A message from an isolate to a key's object, waiting for the test. */
interface Message {
  readonly seq: number
  readonly isolate: Isolate
  readonly key: string
  readonly sentAt: number
  readonly input: string
  readonly init: RequestInit | undefined
  readonly acquire: boolean
  resolve(response: Response): void
  reject(error: unknown): void
}

/**
 * The library as each isolate loads it: its own module instances (isolate n of every run uses the nth), so its own reporter
 * id, as the quorum counts isolates, and its own probing marks.
 */
async function loadIsolate() {
  vi.resetModules()
  const [lib, share, stages] = await Promise.all([import('../src/index.js'), import('../src/worker/share.js'), import('../src/stages/types.js')])
  return { createResilientFetch: lib.createResilientFetch, durableObjectShare: share.durableObjectShare, probing: stages.probing }
}
const modules: Awaited<ReturnType<typeof loadIsolate>>[] = []
beforeAll(async () => {
  for (let i = 0; i < 4; i++) modules.push(await loadIsolate())
})

class Isolate {
  live = true
  readonly rf: ResilientFetch
  readonly transport = controlledTransport()
  /** Keys for which a message of this isolate failed or was given up on: from then on it may probe alone (documented). */
  readonly alone = new Set<string>()
  /** By key, until when this isolate is on its own breaker (at least: a late permit may end it sooner), by what the test saw. */
  readonly down = new Map<string, number>()
  /** The last answer to a permit request, by key: a probe counts against `probes` only with a permit. */
  readonly grant = new Map<string, 'permit' | 'no permit' | 'refused'>()
  /** Keys this isolate forced, closed or reset by hand, and when: its own state until the object's next change. */
  readonly controlled = new Map<string, number>()
  /** When each key's breaker here last changed state, as World.order counts (not in ms: see World.own). */
  readonly changed = new Map<string, number>()

  constructor(
    readonly n: number,
    world: World,
  ) {
    const { cfg } = world
    const { createResilientFetch, durableObjectShare, probing } = modules[n]!
    const fleet = { failureThreshold: cfg.failureThreshold, openDuration: cfg.openDuration, probes: cfg.probes, successesToClose: 1 }
    // A request sent as a half-open breaker's probe is marked as it reaches the transport.
    const fetch = ((input: RequestInfo | URL, init?: RequestInit) => {
      const before = this.transport.calls.length
      const answer = this.transport.fetch(input, init)
      const entry = this.transport.calls[before]
      if (entry !== undefined) world.probes.set(entry, (entry.signal !== undefined && probing.has(entry.signal)) || this.state(new URL(entry.url).origin) === 'half-open')
      return answer
    }) as typeof globalThis.fetch
    this.rf = createResilientFetch({
      fetch,
      share: durableObjectShare(world.namespace(this), { breaker: fleet, minReporters: cfg.minReporters, timeout: TIMEOUT, syncInterval: SYNC, retryInterval: RETRY }),
      retry: false,
      fallback: false,
      bulkhead: false,
      timeout: { attempt: cfg.attempt },
      breaker: {
        window: 'consecutive',
        failureThreshold: cfg.failureThreshold,
        openDuration: { base: cfg.openDuration, max: cfg.openDuration, jitter: 0 },
        halfOpen: { probes: cfg.probes, successesToClose: 1 },
      },
    })
    this.rf.addEventListener('statechange', (event) => void this.changed.set(event.detail.key, world.order++))
  }

  state(key: string): BreakerState {
    return this.rf.breaker(key)?.state ?? 'closed'
  }
}

class World {
  readonly role = 'isolate'
  readonly keys = KEYS
  readonly isolates: Isolate[] = []
  /** Whether each request sent was a probe. */
  readonly probes = new WeakMap<Pending, boolean>()
  readonly objects = new Map<string, { object: BreakerCoordinator; state: ReturnType<typeof memoryState> }>()
  messages: Message[] = []
  seq = 0
  readonly calls: { isolate: Isolate; key: string; settled: boolean }[] = []
  readonly violations: string[] = []
  /** Counts the isolates' state changes and the objects', in the order they happen. */
  order = 0
  /** By key, the object's state (its `at`) and when it entered it, as `order` counts. */
  readonly entered = new Map<string, { at: number; order: number }>()
  /** By key, failure reports a half-open object received while none of its permits was out: nobody probed for the fleet. */
  readonly unprobed = new Map<string, { at: number; reporter: string; n: number; episode: number }[]>()
  readonly log: string[] = []

  constructor(readonly cfg: Config) {
    for (const key of KEYS) {
      const state = memoryState()
      this.objects.set(key, { object: new BreakerCoordinator(state.ctx), state })
    }
    for (let i = 0; i < cfg.isolates; i++) this.isolates.push(new Isolate(i, this))
  }

  /** Isolate `isolate`'s binding: its messages wait in `messages`; once it has gone, what it sends reaches no one. */
  namespace(isolate: Isolate): CoordinatorNamespace {
    return {
      idFromName: (name) => name,
      get: ((key: string) => ({
        fetch: (input: string, init?: RequestInit) =>
          new Promise<Response>((resolve, reject) => {
            if (!isolate.live) return
            const acquire = (JSON.parse(init!.body as string) as { acquire?: number }).acquire !== undefined
            this.messages.push({ seq: this.seq++, isolate, key, sentAt: Date.now(), input, init, acquire, resolve, reject })
          }),
      })) as never,
    }
  }

  live(): Isolate[] {
    return this.isolates.filter((i) => i.live)
  }

  fleet(key: string) {
    return this.objects.get(key)!.object.fleet
  }

  /** The object's view of `key` now: closed until its first message. */
  view(key: string) {
    const fleet = this.fleet(key)
    return fleet === undefined ? { state: 'closed' as const, at: 0 } : fleet.view(Date.now())
  }

  /** Whether the object refuses calls to `key` now: open and its window not past. */
  fleetOpen(key: string): boolean {
    const fleet = this.fleet(key)
    return fleet !== undefined && fleet.state === 'open' && Date.now() < fleet.openUntil
  }

  /** A message failed or given up on: its isolate leaves the key's object alone for retryInterval. */
  down(message: Message, at: number): void {
    const { isolate, key } = message
    isolate.alone.add(key)
    isolate.down.set(key, Math.max(isolate.down.get(key) ?? 0, at + RETRY))
  }

  async deliver(message: Message): Promise<string> {
    this.messages = this.messages.filter((m) => m !== message)
    if (Date.now() - message.sentAt >= TIMEOUT) this.down(message, message.sentAt + TIMEOUT)
    const sent = JSON.parse(message.init!.body as string) as { reporter: string; failures?: number; ends?: unknown }
    const fleet = this.fleet(message.key)
    const unprobed = fleet !== undefined && this.view(message.key).state === 'half-open' && fleet.outstanding(Date.now()) === 0 && sent.ends === undefined
    const response = await this.objects.get(message.key)!.object.fetch(new Request(message.input, message.init))
    this.noteObject(message.key)
    if (unprobed && (sent.failures ?? 0) > 0) {
      const list = this.unprobed.get(message.key) ?? []
      this.unprobed.set(message.key, [...list, { at: Date.now(), reporter: sent.reporter, n: sent.failures!, episode: fleet.changedAt }])
    }
    this.checkUnprobed(message.key)
    const answer = (await response.clone().json()) as { grant?: { granted: boolean; permit?: number } }
    if (message.acquire && answer.grant !== undefined) {
      message.isolate.grant.set(message.key, !answer.grant.granted ? 'refused' : answer.grant.permit === undefined ? 'no permit' : 'permit')
    }
    message.resolve(response)
    await flushAll()
    return `${message.isolate.n}→${message.key}${message.acquire ? ' (permit)' : ''} ${JSON.stringify(answer)}`
  }

  fail(message: Message): void {
    this.messages = this.messages.filter((m) => m !== message)
    this.down(message, Date.now())
    message.reject(new TypeError('Durable Object subrequest failed'))
  }

  /** Delivers every message, and what the answers bring, running the alarms that fall due. */
  async deliverAll(): Promise<void> {
    for (let i = 0; i < 200; i++) {
      await flushAll()
      await this.alarms()
      const next = this.messages[0]
      if (next === undefined) break
      await this.deliver(next)
    }
  }

  /** The runtime runs an object's alarm once it is due (maybe late, never early). */
  async alarms(): Promise<void> {
    for (const { object, state } of this.objects.values()) {
      const at = state.alarm()
      if (at !== null && at <= Date.now()) {
        await state.ctx.storage.deleteAlarm()
        await object.alarm()
      }
    }
    for (const key of KEYS) this.noteObject(key)
  }

  /** Orders the object's state among the isolates' changes (an open is entered in a message, noted as it is answered). */
  noteObject(key: string): void {
    const at = this.fleet(key)?.changedAt
    if (at !== undefined && this.entered.get(key)?.at !== at) this.entered.set(key, { at, order: this.order++ })
  }

  pendingRequests(): { entry: Pending; isolate: Isolate; key: string }[] {
    return this.live().flatMap((isolate) => isolate.transport.pending.map((entry) => ({ entry, isolate, key: new URL(entry.url).origin })))
  }

  /** When the first open window ends, an object's (its alarm) or a live isolate's, if one is running. */
  nextProbeAt(): number | undefined {
    const alarms = [...this.objects.values()].flatMap(({ state }) => (state.alarm() === null ? [] : [state.alarm()!]))
    const local = this.live().flatMap((i) => i.rf.snapshot().breakers.flatMap((b) => (b.nextProbeAt === undefined ? [] : [b.nextProbeAt])))
    const ends = [...alarms, ...local].filter((t) => t > Date.now())
    return ends.length === 0 ? undefined : Math.min(...ends)
  }

  /** Requests sent to `key` so far, by every isolate. */
  sentTo(key: string): number {
    return this.isolates.reduce((n, i) => n + i.transport.calls.filter((entry) => new URL(entry.url).origin === key).length, 0)
  }

  call(isolate: Isolate, key: string): void {
    const record = { isolate, key, settled: false }
    this.calls.push(record)
    // The reports outlive the call (ctx.waitUntil); the test settles them by delivering their messages.
    const resilience = { waitUntil: (p: Promise<unknown>) => void p.catch(() => {}) }
    isolate.rf(`${key}/x`, { resilience }).then(
      (r) => r.body?.cancel(),
      () => {},
    ).finally(() => (record.settled = true))
  }

  /** An isolate goes away: its request contexts end, so its upstream requests never answer and nothing more it sends arrives. */
  goAway(isolate: Isolate): void {
    isolate.live = false
  }

  async step(what: string): Promise<void> {
    await flushAll()
    await this.alarms()
    // A message older than the timeout was given up on: its isolate is on its own breaker for that key for a while.
    for (const m of this.messages) if (Date.now() - m.sentAt >= TIMEOUT) this.down(m, m.sentAt + TIMEOUT)
    this.log.push(what)
    this.checkProbes()
    expect(this.violations.join('; '), `after ${what}`).toBe('')
  }

  /** At most `probes` probes of a key holding the object's permit are out across the live isolates. */
  checkProbes(): void {
    for (const key of KEYS) {
      const out = this.pendingRequests().filter(
        (r) => r.key === key && this.probes.get(r.entry) === true && !r.isolate.alone.has(key) && r.isolate.grant.get(key) === 'permit',
      )
      if (out.length > this.cfg.probes) this.violations.push(`${out.length} permitted probes of ${key} out at once (probes: ${this.cfg.probes}), from isolates ${out.map((r) => r.isolate.n).join(', ')}`)
    }
  }

  /**
   * A half-open object none of whose permits is out (every isolate closed without one: by hand, or by a probe let through
   * while the object was unreachable) does not ignore the isolates' failures: once its window holds failureThreshold of
   * them from minReporters isolates, reported in that half-open, it is open.
   */
  checkUnprobed(key: string): void {
    const fleet = this.fleet(key)
    if (fleet === undefined || this.view(key).state !== 'half-open') return
    const t = Date.now()
    // Surely still in the object's window (the share's default, 30 s, in ten buckets).
    const reports = (this.unprobed.get(key) ?? []).filter((r) => r.episode === fleet.changedAt && r.at > t - WINDOW + WINDOW / 10)
    const failures = reports.reduce((n, r) => n + r.n, 0)
    const reporters = new Set(reports.map((r) => r.reporter)).size
    if (failures >= this.cfg.failureThreshold && reporters >= this.cfg.minReporters) {
      this.violations.push(`${key}'s object is half-open with no permit out and ignored ${failures} failures from ${reporters} isolates`)
    }
  }

  /**
   * Whether the isolate's state of `key` is its own (a control) rather than the fleet's: until the object's state changes
   * after it. A control is dated after any state of its ms, so an open the object decided in that ms (from a report sent
   * before the control) is not taken either; the object's view stays the same, so it is not heard again.
   */
  own(isolate: Isolate, key: string): boolean {
    const changedAt = this.fleet(key)?.changedAt ?? 0
    const at = isolate.controlled.get(key)
    if (at !== undefined && changedAt <= at) return true
    // A state the isolate entered after the object's (its own probe, let through while the object was unreachable, closed
    // it; an open(ms) by hand ended) is newer: a share keeps the newest, and the object's view, unchanged, is not heard
    // again. Not promised either way by the README; see the commit. After in the order things happened, not by ms: two
    // states of one ms are ordered by the dates the library gives them (a state is dated after the one it replaces), so
    // a state entered after the object's in its ms may be dated after it, and kept.
    return (isolate.changed.get(key) ?? -Infinity) > (this.entered.get(key)?.order ?? -Infinity)
  }

  /**
   * Agreement: every message answered and every isolate past its refresh (syncInterval, and retryInterval after a failed
   * message), each calls each key once (a healthy upstream answers whatever reaches it); then an object that is open has
   * every isolate refusing calls, but those whose state is their own by a control, and those on their own breaker because
   * a message was given up on or failed within retryInterval (a message delivered after its timeout is one).
   */
  async refresh(): Promise<string> {
    await this.deliverAll()
    await vi.advanceTimersByTimeAsync(Math.max(SYNC, RETRY) + TIMEOUT)
    await this.deliverAll()
    const first = this.calls.length
    for (const isolate of this.live()) for (const key of KEYS) this.call(isolate, key)
    for (let i = 0; i < 5 && this.calls.slice(first).some((c) => !c.settled); i++) {
      await this.deliverAll()
      for (const { entry, isolate } of this.pendingRequests()) if (this.calls.slice(first).some((c) => c.isolate === isolate && !c.settled)) entry.respond(200)
      await this.deliverAll()
    }
    // Then each calls each key again: while the object is open, no call of an isolate that follows it reaches the upstream
    // (half-open, an isolate asks for a permit, which the object refuses). One whose message was given up on or failed
    // meanwhile is on its own breaker for retryInterval (documented).
    const open = KEYS.filter((key) => this.fleetOpen(key))
    const followers = (key: string) => this.live().filter((isolate) => !this.own(isolate, key) && (isolate.down.get(key) ?? 0) <= Date.now())
    const sent = (isolate: Isolate, key: string) => isolate.transport.calls.filter((entry) => new URL(entry.url).origin === key).length
    const before = new Map(open.map((key) => [key, followers(key).map((isolate) => [isolate, sent(isolate, key)] as const)]))
    const second = this.calls.length
    for (const isolate of this.live()) for (const key of KEYS) this.call(isolate, key)
    await this.deliverAll()
    const through = [...before].flatMap(([key, counts]) => counts.filter(([isolate, n]) => sent(isolate, key) > n).map(([isolate]) => `isolate ${isolate.n} (${isolate.state(key)}) → ${key}`))
    for (let i = 0; i < 5 && this.calls.slice(second).some((c) => !c.settled); i++) {
      for (const { entry } of this.pendingRequests()) entry.respond(200)
      await this.deliverAll()
    }
    expect(through, `the object's breaker is open (${open.map((key) => `${key} ${JSON.stringify(this.view(key))}`).join(', ')}), every message answered and every isolate refreshed: calls reached the upstream`).toEqual([])
    return `refreshed${open.length > 0 ? `, ${open.join(' and ')} refused everywhere` : ''}`
  }

  describe(): string {
    return KEYS.map((key) => `${key}: object ${JSON.stringify(this.view(key))}, ${this.live().map((i) => `isolate ${i.n} ${i.state(key)}`).join(', ')}`).join('; ')
  }

  /** Long enough for any open, permit, lost probe, refusal and time alone to have passed. */
  quiet(): number {
    return this.cfg.openDuration + this.cfg.attempt + REPORT_GRACE + LOST_AFTER + Math.max(SYNC, RETRY) + TIMEOUT
  }

  /**
   * The end of a run: the hanging requests fail, every message is answered, time passes every bound. Outage switches
   * (local) are closed. Then a healthy upstream, called by every isolate for every key, closes the object and every
   * isolate; no call hangs and no timer is left.
   */
  async finish(): Promise<void> {
    for (let round = 0; round < 3; round++) {
      for (const { entry } of this.pendingRequests()) entry.fail()
      await this.deliverAll()
      await vi.advanceTimersByTimeAsync(this.quiet())
      await this.deliverAll()
    }
    for (const isolate of this.live()) for (const key of KEYS) if (isolate.state(key) === 'forced-open') isolate.rf.breaker(key)!.close()
    for (let round = 0; round < 4 && KEYS.some((key) => this.view(key).state !== 'closed' || this.live().some((i) => i.state(key) !== 'closed')); round++) {
      const first = this.calls.length
      for (const isolate of this.live()) for (const key of KEYS) this.call(isolate, key)
      for (let i = 0; i < 5 && this.calls.slice(first).some((c) => !c.settled); i++) {
        await this.deliverAll()
        for (const { entry } of this.pendingRequests()) entry.respond(200)
        await this.deliverAll()
      }
      expect(this.calls.slice(first).filter((c) => !c.settled), 'healthy calls still pending').toEqual([])
      await vi.advanceTimersByTimeAsync(SYNC)
      await this.deliverAll()
    }
    for (const key of KEYS) {
      // The object may be left half-open (refusing nothing) when every isolate closed without a permit: one closed by hand,
      // or one whose probe went through while the object was unreachable. Not promised either way: successes are not sent,
      // but such a half-open counts the failures reported to it (checkUnprobed), so it is not wedged.
      const object = this.view(key).state === 'half-open' ? 'not open' : this.view(key).state
      expect([object, ...this.live().map((i) => `isolate ${i.n} ${i.state(key)}`)], `a healthy upstream closes every isolate, and the object refuses nothing (${key})`).toEqual([
        this.view(key).state === 'half-open' ? 'not open' : 'closed',
        ...this.live().map((i) => `isolate ${i.n} closed`),
      ])
    }
    await vi.advanceTimersByTimeAsync(this.quiet())
    await this.deliverAll()
    expect(this.calls.filter((c) => !c.settled), 'calls never settled').toEqual([])
    expect(this.messages.filter((m) => m.isolate.live), 'messages of live isolates unanswered').toEqual([])
    expect(vi.getTimerCount(), 'timers left').toBe(0)
  }
}

// ---------------------------------------------------------------------------------------------
// Commands

type Cmd = fc.AsyncCommand<World, World>

class AnswerOne implements Cmd {
  constructor(
    readonly pick: number,
    readonly answer: Answer,
  ) {}
  check = (world: Readonly<World>) => world.pendingRequests().length > 0
  async run(world: World) {
    const { entry, isolate, key } = pick(world.pendingRequests(), this.pick)
    const probe = world.probes.get(entry) === true
    if (this.answer === 'network error') entry.fail()
    else entry.respond(this.answer === '200' ? 200 : 503)
    await world.step(`isolate ${isolate.n}'s request to ${key}${probe ? ' (a probe)' : ''} answered ${this.answer}`)
  }
  toString = () => `answer upstream request #${this.pick} (of those pending) with ${this.answer}`
}

class Deliver implements Cmd {
  constructor(readonly pick: number) {}
  check = (world: Readonly<World>) => world.messages.length > 0
  async run(world: World) {
    const what = await world.deliver(pick(world.messages, this.pick))
    await world.step(`deliver ${what}`)
  }
  toString = () => `deliver message #${this.pick} (of those waiting)`
}

class Fail implements Cmd {
  constructor(readonly pick: number) {}
  check = (world: Readonly<World>) => world.messages.length > 0
  async run(world: World) {
    const message = pick(world.messages, this.pick)
    world.fail(message)
    await world.step(`fail isolate ${message.isolate.n}'s message to ${message.key}'s object${message.acquire ? ' (permit)' : ''}`)
  }
  toString = () => `fail message #${this.pick} (of those waiting)`
}

class DeliverAll implements Cmd {
  check = (world: Readonly<World>) => world.messages.length > 0
  async run(world: World) {
    await world.deliverAll()
    await world.step('deliver every message')
  }
  toString = () => 'deliver every message'
}

class GoAway implements Cmd {
  constructor(readonly isolate: number) {}
  check = (world: Readonly<World>) => world.live().length > 1
  async run(world: World) {
    const isolate = pick(world.live(), this.isolate)
    const probes = world.pendingRequests().filter((r) => r.isolate === isolate && world.probes.get(r.entry) === true).length
    world.goAway(isolate)
    await world.step(`isolate ${isolate.n} goes away${probes > 0 ? ' with a probe out' : ''}`)
  }
  toString = () => `live isolate #${this.isolate} goes away`
}

class Control implements Cmd {
  constructor(
    readonly isolate: number,
    readonly key: number,
    readonly op: 'open' | 'close' | 'reset',
    readonly ms: number | undefined,
  ) {}
  check = () => true
  async run(world: World) {
    const isolate = pick(world.live(), this.isolate)
    const key = KEYS[this.key]!
    const breaker = isolate.rf.breaker(key)
    if (this.op === 'open') breaker?.open(this.ms)
    else breaker?.[this.op]()
    isolate.controlled.set(key, Date.now())
    await world.step(`isolate ${isolate.n}: rf.breaker(${key})${breaker ? '' : ' (none)'}.${this.op}(${this.ms ?? ''})`)
  }
  toString = () => `live isolate #${this.isolate}: rf.breaker(${KEYS[this.key]})?.${this.op}(${this.ms ?? ''})`
}

class Refresh implements Cmd {
  check = () => true
  async run(world: World) {
    await world.step(await world.refresh())
  }
  toString = () => 'every message answered, past the refresh, every isolate calls every key: an open object refuses everywhere'
}

/**
 * No wedge within the bounds: every message answered, past a permit's ttl and grace, LOST_AFTER and a refusal's
 * syncInterval (a probe that hung, or whose isolate went away), an object that is not open lets some isolate that
 * admits calls reach the upstream when all of them call.
 */
class NoWedge implements Cmd {
  constructor(readonly key: number) {}
  check = () => true
  async run(world: World) {
    const key = KEYS[this.key]!
    await world.deliverAll()
    const bound = world.cfg.attempt + REPORT_GRACE + LOST_AFTER + SYNC
    await vi.advanceTimersByTimeAsync(bound)
    await world.deliverAll()
    const admitting = world.live().filter((i) => !refuses(i.state(key)))
    const before = world.sentTo(key)
    for (const isolate of admitting) world.call(isolate, key)
    await world.deliverAll()
    const what = `${bound} ms later, isolates ${admitting.map((i) => i.n).join(', ')} admit calls to ${key} and call it`
    if (admitting.length > 0 && !world.fleetOpen(key)) expect(world.sentTo(key), `${what}: none reaches the upstream (${world.describe()})`).toBeGreaterThan(before)
    await world.step(what)
  }
  toString = () => `past a lost probe's bounds, every isolate that admits calls to ${KEYS[this.key]} calls it`
}

const isolateIndex = fc.nat(3)
const key = fc.nat(KEYS.length - 1)
const call = fc.record({ isolate: isolateIndex, key }).map(({ isolate, key }) => new Call(isolate, key))
const answer = fc.record({ pick: fc.nat(7), answer: fc.constantFrom(...ANSWERS) }).map(({ pick, answer }) => new AnswerOne(pick, answer))
const control = fc
  .record({ isolate: isolateIndex, key, op: fc.constantFrom('open' as const, 'close' as const, 'reset' as const), ms: fc.option(fc.integer({ min: 1, max: 5_000 }), { nil: undefined }) })
  .map(({ isolate, key, op, ms }) => new Control(isolate, key, op, ms))

const commands: fc.Arbitrary<Cmd[]> = fc.array(
  fc.oneof(
    { weight: 5, arbitrary: call },
    { weight: 4, arbitrary: key.map((key) => new CallAll(key)) },
    { weight: 5, arbitrary: answer },
    { weight: 2, arbitrary: fc.integer({ min: 1, max: 600 }).map((ms) => new Advance<World>(ms)) },
    { weight: 1, arbitrary: fc.integer({ min: 600, max: 12_000 }).map((ms) => new Advance<World>(ms)) },
    { weight: 3, arbitrary: fc.constant(new AdvanceToProbe()) },
    { weight: 4, arbitrary: fc.nat(7).map((n) => new Deliver(n)) },
    { weight: 1, arbitrary: fc.nat(7).map((n) => new Fail(n)) },
    { weight: 2, arbitrary: fc.constant(new DeliverAll()) },
    { weight: 1, arbitrary: isolateIndex.map((n) => new GoAway(n)) },
    { weight: 1, arbitrary: control },
    { weight: 1, arbitrary: fc.constant(new Refresh()) },
    { weight: 1, arbitrary: key.map((key) => new NoWedge(key)) },
  ),
  { minLength: 12, maxLength: 25, size: 'max' },
)

async function runModel(cfg: Config, cmds: Iterable<Cmd>): Promise<void> {
  vi.clearAllTimers()
  vi.setSystemTime(T0)
  // What the library draws from Math.random, seeded: a counterexample replays exactly. (Each isolate's reporter id is drawn
  // once, by the first run that sends from it, and kept by its module; the object only tells ids apart.)
  seedMathRandom(cfg.seed)
  const world = new World(cfg)
  await modelRun(world, cfg, cmds, () => {
    for (const isolate of world.live()) world.goAway(isolate)
  })
}

beforeEach(() => {
  // Request and Response bodies in Node settle through setImmediate: leave it real.
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] })
})
afterEach(() => {
  vi.restoreAllMocks()
  vi.useRealTimers()
})

describe('isolates sharing breakers through the Durable Object agree and never wedge, whatever the order of their messages', () => {
  it('permitted probes within `probes`, an open object refuses everywhere, no wedge, a healthy upstream closes all, no timer left', async () => {
    await fc.assert(fc.asyncProperty(config, commands, runModel), { numRuns: RUNS, ...(SEED === undefined ? {} : { seed: SEED }) })
    // No time limit (vitest's 0): every run is bounded by its commands and the bounded delivery and drain rounds, and
    // awaits only the fake clock and flushes, so it cannot hang; a limit only raced the machine's speed.
  }, 0)
})


describe('isolates sharing breakers through the Durable Object: counterexamples kept', () => {
  const base: Config = { isolates: 2, failureThreshold: 1, openDuration: 1_000, probes: 1, minReporters: 1, attempt: 300, seed: 0 }
  const cases: [string, Partial<Config>, Cmd[]][] = [
    [
      // The probes went through alone (the reports of the first failures were given up on); the one that failed was kept
      // and sent with the next success, 26 s later: it re-opened the fleet a successful probe had just closed.
      'an outcome seen while the object was unreachable is not sent later, when it would re-open a recovered fleet',
      {},
      [new CallAll(0), new NoWedge(0)],
    ],
    [
      // A failure that came while a report was on its way stayed behind when that report was given up on, and went with
      // the next message, a probe's success a minute later.
      'a failure that waited behind a report given up on is not sent later with a probe\'s success',
      { openDuration: 10_000 },
      [new NoWedge(0), new CallAll(0), new NoWedge(0)],
    ],
    [
      // Isolate 0 never heard b's object open (its report was given up on), so the half-open in the answer to its permit
      // request was joined: an open of its own, dated with the object's half-open, killed the half-open its permitted
      // probe ran in. The probe closed the object in the same ms, and isolate 0 kept its open (the later end wins a tie),
      // then probed alone when told "closed, no permit". Its close, dated a ms after the half-open it ended and so after
      // the object's next open (isolate 1's failure in the same ms), outranked that open: it kept sending while open.
      'an isolate granted a permit is not joined to the half-open it probes in, and follows the open after its probe',
      { openDuration: 10_000 },
      [new CallAll(1), new NoWedge(0), new AdvanceToProbe(), new Refresh(), new NoWedge(1), new CallAll(0), new AnswerOne(0, '200'), new AnswerOne(0, 'network error'), new Refresh()],
    ],
    [
      // Isolate 0's failure, reported before it forced its breaker open for 1 ms, reached the object 5 s late and opened it;
      // in that ms isolate 0, on its own breaker (the report was given up on), then probed and closed. Its close came after
      // the object's open, and is dated after it (a close is dated after the half-open it ends): it keeps it, rightly. The
      // model judged "after" by ms, where both were the same, and took isolate 0 for one that follows the object.
      'an isolate\'s own close entered after the object\'s open in the same ms is its own (judged by order, not ms)',
      { openDuration: 10_000 },
      [new Call(0, 1), new Control(0, 1, 'open', 1), new CallAll(0), new Refresh(), new Call(0, 0), new Call(0, 0), new Refresh()],
    ],
  ]

  it.each(cases)('%s', async (_, cfg, cmds) => {
    await runModel({ ...base, ...cfg }, cmds)
  })
})

