import { getEventListeners } from 'node:events'
import fc from 'fast-check'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { createResilientFetch, type BreakerState, type ResilientFetch } from '../src/index.js'
import { shareAcrossTabs, type TabShare } from '../src/share/tabs.js'
import { LOST_AFTER } from '../src/deadline.js'
import { probing } from '../src/stages/types.js'
import { controlledTransport, type Pending } from './helpers.js'
import { fakeLocks, heldChannels, memoryStorage } from './share-fakes.js'
import { seedMathRandom, Advance, AdvanceToProbe, Call, CallAll, flushAll, modelRun, pick } from './model-helpers.js'

/**
 * Model-based: 2 to 4 tabs of one origin, each an instance on shareAcrossTabs over a transport the test answers, joined by
 * a BroadcastChannel whose messages wait until the test delivers them (in any order across senders), with one
 * localStorage and (in most runs) one Web Locks manager. Random interleavings of calls, answers, time, deliveries, tabs
 * closing (a probe out or not) and opening (a reload), and rf.breaker() controls must keep the tabs agreeing and never
 * wedge: whenever every message has arrived the tabs agree on whether each key is open; at most one probe per key is out
 * across the tabs; once the run settles, a healthy upstream closes every tab's breaker; nothing is left behind.
 * (test/share-tabs.test.ts checks each behaviour by itself.)
 */


// SHARE_MODEL_RUNS=3000 SHARE_MODEL_SEED=random for a longer soak (a counterexample found so is kept below as a case). A
// fixed seed by default, so a run in CI replays the same interleavings.
const RUNS = Number(process.env.SHARE_MODEL_RUNS ?? 300)
const SEED = process.env.SHARE_MODEL_SEED === 'random' ? undefined : Number(process.env.SHARE_MODEL_SEED ?? 20_260_601)
const T0 = 1_780_000_000_000
const NAME = 'rf-share-model'
const KEYS = ['https://a.test', 'https://b.test'] as const
const ANSWERS = ['200', '503', '503 retry-after', 'network error'] as const
type Answer = (typeof ANSWERS)[number]
/** Retry-After, s: longer than an open of openDuration.base, so the upstream's quiet outlasts the breaker's own. */
const RETRY_AFTER_S = 3
/** How long a claim without Web Locks waits to hear a rival (CLAIM_SETTLE_MS in src/share/lease.ts). */
const CLAIM_SETTLE = 100
/** The longest open(ms) the model forces. */
const MAX_FORCED = 5_000

interface Config {
  tabs: number
  /** Web Locks, or the claim in storage and on the channel. */
  locks: boolean
  failureThreshold: number
  openBase: number
  probes: number
  /** The attempt deadline. */
  attempt: number
  seed: number
}

const config: fc.Arbitrary<Config> = fc.record({
  tabs: fc.integer({ min: 2, max: 4 }),
  locks: fc.boolean(),
  failureThreshold: fc.integer({ min: 1, max: 2 }),
  openBase: fc.constantFrom(500, 1_000, 2_000),
  probes: fc.integer({ min: 1, max: 2 }),
  attempt: fc.constantFrom(300, 1_000, 3_000),
  seed: fc.integer(),
})

// ---------------------------------------------------------------------------------------------
// The world: the tabs, their transports and calls, the channel, storage and locks

/** Whether a state refuses calls: what the tabs must agree on. Half-open is reached by each tab by itself. */
type Stance = 'open' | 'forced-open' | 'admits' | 'disabled'
const stance = (state: BreakerState): Stance => (state === 'closed' || state === 'half-open' ? 'admits' : state)

interface Request {
  tab: Tab
  key: string
  /** Sent as a half-open breaker's probe. */
  probe: boolean
}

class Tab {
  live = true
  readonly share: TabShare
  readonly rf: ResilientFetch
  readonly transport = controlledTransport()

  constructor(
    readonly n: number,
    world: World,
  ) {
    const { cfg } = world
    this.share = shareAcrossTabs({ name: NAME })
    const fetch = ((input: RequestInfo | URL, init?: RequestInit) => {
      const before = this.transport.calls.length
      const answer = this.transport.fetch(input, init)
      const entry = this.transport.calls[before]
      if (entry !== undefined) world.sent(this, entry)
      return answer
    }) as typeof globalThis.fetch
    this.rf = createResilientFetch({
      fetch,
      share: this.share,
      retry: false,
      fallback: false,
      bulkhead: false,
      timeout: { attempt: cfg.attempt },
      breaker: {
        window: 'consecutive',
        failureThreshold: cfg.failureThreshold,
        openDuration: { base: cfg.openBase, max: cfg.openBase * 4, multiplier: 2, jitter: 0 },
        halfOpen: { probes: cfg.probes, successesToClose: 1 },
      },
    })
  }

  /** What this tab reports for `key` (a key it has never heard of is closed). */
  state(key: string): BreakerState {
    return this.rf.breaker(key)?.state ?? 'closed'
  }
}

class World {
  readonly role = 'tab'
  readonly keys = KEYS
  readonly tabs: Tab[] = []
  readonly requests = new WeakMap<Pending, Request>()
  readonly calls: { tab: Tab; key: string; settled: boolean }[] = []
  readonly channels = heldChannels()
  readonly storage = memoryStorage()
  readonly locks: Set<string> | undefined
  /** One EventTarget stands for every tab's window (pagehide, pageshow): the listeners the shares leave are counted on it. */
  readonly window = new EventTarget()
  readonly violations: string[] = []
  readonly log: string[] = []

  constructor(readonly cfg: Config) {
    this.locks = cfg.locks ? fakeLocks() : undefined
    vi.stubGlobal('addEventListener', this.window.addEventListener.bind(this.window))
    vi.stubGlobal('removeEventListener', this.window.removeEventListener.bind(this.window))
    for (let i = 0; i < cfg.tabs; i++) this.open()
  }

  live(): Tab[] {
    return this.tabs.filter((t) => t.live)
  }

  open(): Tab {
    const tab = new Tab(this.tabs.length, this)
    this.tabs.push(tab)
    return tab
  }

  /** A request reached a tab's transport: invariant 2, at most one probe per key out across the live tabs. */
  sent(tab: Tab, entry: Pending): void {
    const key = new URL(entry.url).origin
    const probe = (entry.signal !== undefined && probing.has(entry.signal)) || tab.state(key) === 'half-open'
    this.requests.set(entry, { tab, key, probe })
    const out = this.pendingRequests().filter((r) => r.request.probe && r.request.key === key)
    if (out.length > 1) this.violations.push(`${out.length} probes of ${key} out at once, from tabs ${out.map((r) => r.request.tab.n).join(', ')}`)
  }

  /** When the first open window of a live tab ends, if one is running. */
  nextProbeAt(): number | undefined {
    const ends = this.live().flatMap((tab) => tab.rf.snapshot().breakers.flatMap((b) => (b.nextProbeAt !== undefined && b.nextProbeAt > Date.now() ? [b.nextProbeAt] : [])))
    return ends.length === 0 ? undefined : Math.min(...ends)
  }

  /** Requests sent to `key` so far, by every tab. */
  sentTo(key: string): number {
    return this.tabs.reduce((n, tab) => n + tab.transport.calls.filter((entry) => new URL(entry.url).origin === key).length, 0)
  }

  pendingRequests(): { entry: Pending; request: Request }[] {
    return this.live().flatMap((tab) => tab.transport.pending.map((entry) => ({ entry, request: this.requests.get(entry)! })))
  }

  call(tab: Tab, key: string): void {
    const record = { tab, key, settled: false }
    this.calls.push(record)
    tab.rf(`${key}/x`).then(
      (r) => r.body?.cancel(),
      () => {},
    ).finally(() => (record.settled = true))
  }

  /** A tab closes: it leaves the share, and what it had in flight dies with it (its outcome reaches no one). */
  close(tab: Tab): void {
    tab.live = false
    tab.share.close()
    for (const entry of [...tab.transport.pending]) entry.fail()
  }

  async deliverAll(): Promise<void> {
    for (let i = 0; i < 1_000 && this.channels.pending().length > 0; i++) {
      this.channels.deliver(this.channels.pending()[0]!)
      await flushAll()
    }
  }

  async step(what: string): Promise<void> {
    await flushAll()
    this.log.push(what)
    this.check(what)
  }

  /** After every command: no second probe was sent; with every message delivered, the tabs agree on each key. */
  check(what: string): void {
    expect(this.violations.join('; '), `after ${what}`).toBe('')
    if (this.channels.pending().length > 0) return
    // Looking may change a state (an open whose time passed becomes half-open; that is not news for the others).
    const stances = this.stances()
    if (this.channels.pending().length > 0) return
    for (const [key, seen] of stances) {
      expect(new Set(seen.map(([, , s]) => s)).size, `every message delivered after ${what}, the tabs disagree on ${key}: ${seen.map(([n, s]) => `tab ${n} ${s}`).join(', ')}`).toBe(1)
    }
  }

  /** Each live tab's state of each key, and its stance. */
  stances(): Map<string, [number, BreakerState, Stance][]> {
    return new Map(KEYS.map((key) => [key, this.live().map((tab) => [tab.n, tab.state(key), stance(tab.state(key))] as [number, BreakerState, Stance])]))
  }

  /** The states every live tab reports, for the failure messages. */
  describe(): string {
    return KEYS.map((key) => `${key}: ${this.live().map((tab) => `tab ${tab.n} ${tab.state(key)}`).join(', ')}`).join('; ')
  }

  /**
   * The end of a run. Quiescence: the hanging requests fail, every message arrives, time passes every open window, probe
   * deadline and LOST_AFTER; the tabs agree. Then a healthy upstream: one call from every tab to every key reaches the
   * upstream from some tab (nothing wedged) and closes every tab's breaker. Then the tabs close, leaving nothing behind.
   */
  async finish(): Promise<void> {
    const { cfg } = this
    const quiet = cfg.openBase * 4 + RETRY_AFTER_S * 1000 + MAX_FORCED + cfg.attempt + LOST_AFTER + CLAIM_SETTLE
    for (let round = 0; round < 3; round++) {
      for (const { entry } of this.pendingRequests()) entry.fail()
      await flushAll()
      await this.deliverAll()
      await vi.advanceTimersByTimeAsync(quiet)
      await flushAll()
      await this.deliverAll()
    }
    this.check('quiescence')
    expect(this.calls.filter((c) => c.tab.live && !c.settled), 'calls still pending at quiescence').toEqual([])
    expect(vi.getTimerCount(), 'timers left at quiescence').toBe(0)
    if (this.locks) expect([...this.locks], 'Web Locks held at quiescence').toEqual([])

    // An outage switch (a forced open with no end) holds until close() in any tab.
    for (const key of KEYS) {
      const switched = this.live().filter((tab) => tab.state(key) === 'forced-open')
      if (switched.length > 0) switched[0]!.rf.breaker(key)!.close()
    }
    await this.deliverAll()
    await this.healthy()

    for (const tab of this.live()) this.close(tab)
    await flushAll()
    await this.deliverAll()
    await vi.advanceTimersByTimeAsync(quiet)
    await flushAll()
    expect(this.calls.filter((c) => !c.settled), 'calls never settled').toEqual([])
    expect(vi.getTimerCount(), 'timers left once every tab closed').toBe(0)
    expect(this.channels.open(), 'channels left open').toEqual([])
    expect(this.channels.pending(), 'messages to no one').toEqual([])
    for (const type of ['pagehide', 'pageshow', 'storage']) expect(getEventListeners(this.window, type), `${type} listeners left`).toHaveLength(0)
    if (this.locks) expect([...this.locks], 'Web Locks held once every tab closed').toEqual([])
  }

  /** Every live tab calls every key once; the upstream answers 200 to whatever reaches it. */
  async healthy(): Promise<void> {
    const reached = new Set<string>()
    const first = this.calls.length
    for (const tab of this.live()) for (const key of KEYS) this.call(tab, key)
    for (let i = 0; i < 10 && this.calls.slice(first).some((c) => !c.settled); i++) {
      await flushAll()
      for (const { entry, request } of this.pendingRequests()) {
        reached.add(request.key)
        entry.respond(200)
      }
      await flushAll()
      await this.deliverAll()
      // The claim without Web Locks waits to hear a rival.
      await vi.advanceTimersByTimeAsync(CLAIM_SETTLE)
    }
    await this.deliverAll()
    expect(this.calls.slice(first).filter((c) => !c.settled), 'healthy calls still pending').toEqual([])
    expect([...reached].sort(), `a healthy upstream is reached for every key (${this.describe()})`).toEqual([...KEYS])
    for (const key of KEYS) {
      expect(this.live().map((tab) => [tab.n, tab.state(key)]), `after a healthy upstream answered, ${key}`).toEqual(this.live().map((tab) => [tab.n, 'closed']))
    }
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
    const { entry, request } = pick(world.pendingRequests(), this.pick)
    if (this.answer === 'network error') entry.fail()
    else if (this.answer === '200') entry.respond(200)
    else entry.respond(503, this.answer === '503' ? undefined : { 'retry-after': String(RETRY_AFTER_S) })
    await world.step(`tab ${request.tab.n}'s request to ${request.key}${request.probe ? ' (a probe)' : ''} answered ${this.answer}`)
  }
  toString = () => `answer request #${this.pick} (of those pending) with ${this.answer}`
}

class Deliver implements Cmd {
  constructor(
    readonly pick: number,
    readonly count: number,
  ) {}
  check = (world: Readonly<World>) => world.channels.pending().length > 0
  async run(world: World) {
    const what: string[] = []
    for (let i = 0; i < this.count; i++) {
      const next = world.channels.deliverable()
      if (next.length === 0) break
      const message = pick(next, this.pick + i)
      what.push(`${message.from}→${message.to} ${JSON.stringify(message.data)}`)
      world.channels.deliver(message)
      await flushAll()
    }
    await world.step(`deliver ${what.join('; ')}`)
  }
  toString = () => `deliver ${this.count} message(s) from #${this.pick} (of those that may arrive next)`
}

class DeliverAll implements Cmd {
  check = (world: Readonly<World>) => world.channels.pending().length > 0
  async run(world: World) {
    const count = world.channels.pending().length
    await world.deliverAll()
    await world.step(`deliver all ${count} messages`)
  }
  toString = () => 'deliver every message'
}

/**
 * Invariant 3 within its bound: once a probe's attempt deadline and LOST_AFTER have passed (the probe hung, or the tab
 * holding the lease closed), a tab whose breaker admits calls gets one to the upstream when all of them call.
 */
class NoWedge implements Cmd {
  constructor(readonly key: number) {}
  check = () => true
  async run(world: World) {
    const key = KEYS[this.key]!
    const bound = world.cfg.attempt + LOST_AFTER
    await vi.advanceTimersByTimeAsync(bound)
    await flushAll()
    const admitting = world.live().filter((tab) => stance(tab.state(key)) === 'admits')
    const before = world.sentTo(key)
    for (const tab of admitting) world.call(tab, key)
    await flushAll()
    // The claim without Web Locks waits to hear a rival.
    await vi.advanceTimersByTimeAsync(CLAIM_SETTLE)
    const what = `${bound} ms later, tabs ${admitting.map((tab) => tab.n).join(', ')} admit calls to ${key} and call it`
    if (admitting.length > 0) expect(world.sentTo(key), `${what}: none reaches the upstream (${world.describe()})`).toBeGreaterThan(before)
    await world.step(what)
  }
  toString = () => `advance past a probe's deadline and LOST_AFTER; every tab that admits calls to ${KEYS[this.key]} calls it`
}

class CloseTab implements Cmd {
  constructor(readonly tab: number) {}
  check = (world: Readonly<World>) => world.live().length > 1
  async run(world: World) {
    const tab = pick(world.live(), this.tab)
    const probes = world.pendingRequests().filter((r) => r.request.tab === tab && r.request.probe).length
    world.close(tab)
    await world.step(`tab ${tab.n} closes${probes > 0 ? ' with a probe out' : ''}`)
  }
  toString = () => `close live tab #${this.tab}`
}

class OpenTab implements Cmd {
  check = (world: Readonly<World>) => world.live().length < 4
  async run(world: World) {
    const tab = world.open()
    await world.step(`tab ${tab.n} opens`)
  }
  toString = () => 'open a tab (a reload)'
}

class Control implements Cmd {
  constructor(
    readonly tab: number,
    readonly key: number,
    readonly op: 'open' | 'close' | 'reset',
    readonly ms: number | undefined,
  ) {}
  check = () => true
  async run(world: World) {
    const tab = pick(world.live(), this.tab)
    const breaker = tab.rf.breaker(KEYS[this.key]!)
    if (this.op === 'open') breaker?.open(this.ms)
    else breaker?.[this.op]()
    await world.step(`tab ${tab.n}: rf.breaker(${KEYS[this.key]})${breaker ? '' : ' (none)'}.${this.op}(${this.ms ?? ''})`)
  }
  toString = () => `live tab #${this.tab}: rf.breaker(${KEYS[this.key]})?.${this.op}(${this.ms ?? ''})`
}

const tabIndex = fc.nat(3)
const key = fc.nat(KEYS.length - 1)
const call = fc.record({ tab: tabIndex, key }).map(({ tab, key }) => new Call(tab, key))
const answer = fc.record({ pick: fc.nat(7), answer: fc.constantFrom(...ANSWERS) }).map(({ pick, answer }) => new AnswerOne(pick, answer))
const deliver = fc.record({ pick: fc.nat(7), count: fc.integer({ min: 1, max: 4 }) }).map(({ pick, count }) => new Deliver(pick, count))
const control = fc
  .record({ tab: tabIndex, key, op: fc.constantFrom('open' as const, 'close' as const, 'reset' as const), ms: fc.option(fc.integer({ min: 1, max: MAX_FORCED }), { nil: undefined }) })
  .map(({ tab, key, op, ms }) => new Control(tab, key, op, ms))

/** Up to 30 commands, drawn over the whole range: short runs seldom get a breaker open, its window past and a probe out. */
const commands: fc.Arbitrary<Cmd[]> = fc.array(
  fc.oneof(
    { weight: 5, arbitrary: call },
    { weight: 2, arbitrary: key.map((key) => new CallAll(key)) },
    { weight: 5, arbitrary: answer },
    { weight: 2, arbitrary: fc.integer({ min: 1, max: 300 }).map((ms) => new Advance<World>(ms)) },
    { weight: 1, arbitrary: fc.integer({ min: 300, max: 5_000 }).map((ms) => new Advance<World>(ms)) },
    { weight: 2, arbitrary: fc.constant(new AdvanceToProbe()) },
    { weight: 3, arbitrary: deliver },
    { weight: 1, arbitrary: fc.constant(new DeliverAll()) },
    { weight: 1, arbitrary: tabIndex.map((tab) => new CloseTab(tab)) },
    { weight: 1, arbitrary: fc.constant(new OpenTab()) },
    { weight: 1, arbitrary: control },
    { weight: 1, arbitrary: key.map((key) => new NoWedge(key)) },
  ),
  { maxLength: 30, size: 'max' },
)

async function runModel(cfg: Config, cmds: Iterable<Cmd>): Promise<void> {
  vi.clearAllTimers()
  vi.setSystemTime(T0)
  // The tabs' ids come from Math.random: seeded, a counterexample replays the same lease ties.
  seedMathRandom(cfg.seed)
  const world = new World(cfg)
  await modelRun(world, cfg, cmds, () => {
    for (const tab of world.live()) world.close(tab)
    vi.unstubAllGlobals()
  })
}

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] })
})
afterEach(() => {
  vi.restoreAllMocks()
  vi.unstubAllGlobals()
  vi.useRealTimers()
})

describe('tabs sharing breakers agree and never wedge, whatever the order of their messages', () => {
  it('agreement, one probe across tabs, no wedge, nothing left behind', async () => {
    await fc.assert(fc.asyncProperty(config, commands, runModel), { numRuns: RUNS, ...(SEED === undefined ? {} : { seed: SEED }) })
    // No time limit (vitest's 0): every run is bounded by its commands and the bounded delivery and drain rounds, and
    // awaits only the fake clock and flushes, so it cannot hang; a limit only raced the machine's speed.
  }, 0)
})

describe('tabs sharing breakers: counterexamples kept', () => {
  const base: Config = { tabs: 2, locks: false, failureThreshold: 1, openBase: 500, probes: 1, attempt: 300, seed: 0 }
  const cases: [string, Partial<Config>, Cmd[]][] = [
    [
      // Re-timed in the same ms, the forced open was dated as the first one, and the other tab kept the one with no end.
      'a forced open re-timed at once (open() then open(1)) reaches the other tab as the later one',
      {},
      [new Call(0, 0), new Control(0, 0, 'open', undefined), new Control(0, 0, 'open', 1)],
    ],
    [
      // A Retry-After longer than the open a failure started lengthened it in its own tab only.
      "an upstream's Retry-After that lengthens an open reaches the other tabs",
      {},
      [new CallAll(0), new AnswerOne(0, '503 retry-after'), new Deliver(0, 3), new AdvanceToProbe()],
    ],
    [
      // Two tabs tripped in the same ms, each before hearing the other: they swapped their opens, and one ended first.
      'two tabs that trip in the same ms keep the same open',
      { locks: true, failureThreshold: 2, openBase: 1_000 },
      [new Call(0, 0), new CallAll(0), new NoWedge(0), new NoWedge(0), new DeliverAll()],
    ],
    [
      // Of two opens of the same ms, the one that ends later wins everywhere (a name order let the shorter one win).
      'of two opens decided in the same ms, every tab keeps the one that ends later',
      { failureThreshold: 2 },
      [new Call(0, 0), new NoWedge(0), new AnswerOne(7, '503 retry-after'), new AnswerOne(0, '503'), new NoWedge(0), new DeliverAll()],
    ],
    [
      // A later open that had ended by the time it arrived left the other tab on its own, older and longer open.
      'an open that ended before it arrived ends an older, longer open of the tab it reaches',
      {},
      [new NoWedge(0), new AnswerOne(0, '503 retry-after'), new Advance<World>(700), new DeliverAll()],
    ],
    [
      // A tab refused an open of the same ms as its forced open, but remembered it, and answered a new tab with it.
      'a tab answers a tab that starts with the state it kept, not one of the same ms it refused',
      { failureThreshold: 2 },
      [new Deliver(0, 1), new CallAll(0), new AnswerOne(1, '503 retry-after'), new Control(0, 0, 'open', undefined), new CloseTab(1), new OpenTab()],
    ],
    [
      // A live tab answered a new tab's hello with an open another tab had already closed; the close was never answered.
      'a tab that starts hears a close it was not there for, over an older open another tab still answers with',
      {},
      [new CloseTab(0), new Call(0, 0), new AnswerOne(0, 'network error'), new OpenTab(), new Control(1, 0, 'close', undefined), new OpenTab(), new Deliver(0, 1), new Deliver(1, 3), new CloseTab(0)],
    ],
    [
      // The forced open reached the new tab in an answer; the later open that ended it was never answered (it had ended).
      'a tab that starts hears the ended open that replaced a forced open another tab answers with',
      {},
      [new Call(0, 1), new Control(0, 1, 'open', undefined), new Call(3, 1), new Advance<World>(300), new OpenTab(), new AdvanceToProbe()],
    ],
    [
      // An open lengthened by a Retry-After in the ms it tripped is dated a ms after its start; a forced open of another tab
      // decided in that start's ms, before it heard the open, was taken by the first tab, half-open, as its probe's result.
      'a half-open tab does not take a state dated after its open began but before the open was decided (a Retry-After in the ms of a trip)',
      { failureThreshold: 2 },
      [new CallAll(1), new Advance<World>(300), new Call(0, 1), new AnswerOne(0, '503 retry-after'), new Control(1, 1, 'open', undefined), new AdvanceToProbe(), new Call(0, 1)],
    ],
  ]

  it.each(cases)('%s', async (_, cfg, cmds) => {
    await runModel({ ...base, ...cfg }, cmds)
  })

  /** Tabs as the model makes them, over a channel the test delivers; `run` gets them and the world. */
  async function tabs(cfg: Partial<Config>, run: (world: World) => Promise<void>): Promise<void> {
    vi.setSystemTime(T0)
    const world = new World({ tabs: 2, locks: true, failureThreshold: 1, openBase: 500, probes: 1, attempt: 300, seed: 0, ...cfg })
    try {
      await flushAll()
      await run(world)
    } finally {
      for (const tab of world.live()) world.close(tab)
    }
  }

  it('a tab that closes, in the same ms, the open it read in storage closes every tab: its close is dated after the open', async () => {
    await tabs({}, async (world) => {
      const [one, two] = world.tabs as [Tab, Tab]
      world.call(one, KEYS[1])
      await flushAll()
      one.transport.pending[0]!.respond(503)
      await flushAll()
      // Before one's open reaches it, two learns it from storage and closes it, within the same ms.
      two.rf.breaker(KEYS[1])!.close()
      await flushAll()
      await world.deliverAll()
      expect([one.state(KEYS[1]), two.state(KEYS[1])]).toEqual(['closed', 'closed'])
    })
  })

  it('two tabs that open a key in the same ms, each before hearing the other, end on the same one of the two', async () => {
    await tabs({}, async (world) => {
      const [one, two] = world.tabs as [Tab, Tab]
      world.call(two, KEYS[0])
      await flushAll()
      two.transport.pending[0]!.respond(200)
      world.call(one, KEYS[0])
      await flushAll()
      // one trips as two forces an open: each state crosses the other's on the channel.
      one.transport.pending[0]!.respond(503)
      two.rf.breaker(KEYS[0])!.open(5_000)
      await flushAll()
      await world.deliverAll()
      expect(one.state(KEYS[0])).toBe(two.state(KEYS[0]))
    })
  })
})

