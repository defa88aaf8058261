import fc from 'fast-check'
import { vi } from 'vitest'

/** Math.random from `seed` (mulberry32), so a model's run replays exactly: the seed is part of its counterexample. */
export function seedMathRandom(seed: number): void {
  let a = seed >>> 0
  vi.spyOn(Math, 'random').mockImplementation(() => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  })
}

/** A model's command that lets fake time pass, then has the world check what it holds. */
export class Advance<W extends { step(when: string): Promise<void> }> implements fc.AsyncCommand<W, W> {
  constructor(readonly ms: number) {}
  check = () => true
  async run(world: W) {
    await vi.advanceTimersByTimeAsync(this.ms)
    await world.step(this.toString())
  }
  toString = () => `advance ${this.ms} ms`
}

const realSetImmediate = setImmediate
/** Runs every microtask the pipeline queued (and Request/Response bodies) with the real setImmediate, whatever the fake clock does. */
export async function flushAll(): Promise<void> {
  for (let i = 0; i < 3; i++) await new Promise<void>((resolve) => realSetImmediate(resolve))
}

export const pick = <T>(list: readonly T[], i: number): T => list[i % list.length]!

/** A model of participants of one share (tabs, isolates), each calling keys through its own instance. */
export interface Participants {
  /** What a participant is called in a run's log: 'tab', 'isolate'. */
  readonly role: string
  readonly keys: readonly string[]
  live(): { n: number }[]
  /** `participant` is one of `live()`'s, of the model's own type (hence never here). */
  call(participant: never, key: string): void
  step(when: string): Promise<void>
  /** The first end of an open window, of any participant (or of the object they share). */
  nextProbeAt(): number | undefined
}

/** The live participant `i` (of those live, modulo) calls key `k` of the model's. */
export class Call implements fc.AsyncCommand<Participants, Participants> {
  constructor(
    readonly i: number,
    readonly k: number,
  ) {}
  check = () => true
  async run(world: Participants) {
    const participant = pick(world.live(), this.i)
    const key = world.keys[this.k]!
    world.call(participant as never, key)
    await world.step(`${world.role} ${participant.n} calls ${key}`)
  }
  toString = () => `call: live participant #${this.i} → key #${this.k}`
}

/** Every live participant calls key `k` at once (a burst, as when several tabs refresh together): they contend for the probe. */
export class CallAll implements fc.AsyncCommand<Participants, Participants> {
  constructor(readonly k: number) {}
  check = () => true
  async run(world: Participants) {
    const key = world.keys[this.k]!
    for (const participant of world.live()) world.call(participant as never, key)
    await world.step(`every ${world.role} calls ${key}`)
  }
  toString = () => `call: every live participant → key #${this.k}`
}

/** Time runs to the first end of an open window: the next calls probe. */
export class AdvanceToProbe implements fc.AsyncCommand<Participants, Participants> {
  check = (world: Readonly<Participants>) => world.nextProbeAt() !== undefined
  async run(world: Participants) {
    const ms = world.nextProbeAt()! - Date.now()
    await vi.advanceTimersByTimeAsync(ms)
    await world.step(`advance ${ms} ms, to the end of an open window`)
  }
  toString = () => 'advance to the end of the first open window'
}

/** What a model's world keeps for its report, and its last checks once the commands have run. */
export interface Reporting {
  readonly log: string[]
  describe(): string
  finish(): Promise<void>
}

/**
 * Runs `cmds` on `world` (model and real at once), then its last checks; a failure's message gets the config, the run's
 * log and the states. `leave` ends what the world still holds (tabs, isolates); timers and mocks are reset after.
 */
export async function modelRun<W extends Reporting>(world: W, cfg: object, cmds: Iterable<fc.AsyncCommand<W, W>>, leave: () => void): Promise<void> {
  try {
    await flushAll()
    await fc.asyncModelRun(() => ({ model: world, real: world }), cmds)
    await world.finish()
  } catch (error) {
    ;(error as Error).message += `\n  config: ${JSON.stringify(cfg)}\n  run: ${world.log.join('\n       ')}\n  states: ${world.describe()}`
    throw error
  } finally {
    leave()
    vi.clearAllTimers()
    vi.restoreAllMocks()
  }
}
