import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { Lane, messageTask, sharesTimers } from '../src/timers.js'
import { normalizeOptions } from '../src/options.js'
import { TimeoutError } from '../src/errors.js'
import { transportStage } from '../src/stages/transport.js'
import type { Attempt, Call } from '../src/stages/types.js'
import { testCall, testRuntime } from './stages/helpers.js'

beforeEach(() => void vi.useFakeTimers({ now: 1_000_000 }))
afterEach(() => {
  // Globals first: a stub of setTimeout made under fake timers holds the fake one as the original.
  vi.unstubAllGlobals()
  vi.useRealTimers()
})

/** Every stand-in channel made. */
const channels: unknown[] = []

/** A stand-in for MessageChannel (Node's own ports would keep the test process alive): it delivers each message in a later task. */
class FakeChannel {
  port1: { onmessage: (() => void) | null } = { onmessage: null }
  port2 = { postMessage: () => void setTimeout(() => this.port1.onmessage?.(), 0) }
  constructor() {
    channels.push(this)
  }
}

/** Runs the re-arm at once (a lane's own task is a message, which fake time does not deliver). */
const now = (run: () => void) => run()

describe('Lane: deadlines of one duration under one host timer', () => {
  it('fires each deadline at its own time, not a millisecond before, oldest first', () => {
    const lane = new Lane(100, Date.now, now)
    const fired: string[] = []
    lane.arm(() => fired.push('a'))
    vi.advanceTimersByTime(10)
    lane.arm(() => fired.push('b'))
    vi.advanceTimersByTime(10)
    lane.arm(() => fired.push('c'))
    vi.advanceTimersByTime(79)
    expect(fired).toEqual([])
    vi.advanceTimersByTime(1)
    expect(fired).toEqual(['a'])
    vi.advanceTimersByTime(9)
    expect(fired).toEqual(['a'])
    vi.advanceTimersByTime(1)
    expect(fired).toEqual(['a', 'b'])
    vi.advanceTimersByTime(10)
    expect(fired).toEqual(['a', 'b', 'c'])
    expect(vi.getTimerCount()).toBe(0)
  })

  it('deadlines armed and disarmed in sequence (sequential calls) arm one host timer, not one each', () => {
    const setTimeoutSpy = vi.spyOn(globalThis, 'setTimeout')
    const clearTimeoutSpy = vi.spyOn(globalThis, 'clearTimeout')
    const lane = new Lane(10_000, Date.now, now)
    let fired = 0
    // Armed in the same millisecond, and then one a millisecond apart.
    lane.disarm(lane.arm(() => fired++))
    for (let i = 0; i < 1_000; i++) {
      const entry = lane.arm(() => fired++)
      vi.advanceTimersByTime(1)
      lane.disarm(entry)
    }
    expect(setTimeoutSpy).toHaveBeenCalledTimes(1)
    expect(clearTimeoutSpy).not.toHaveBeenCalled()
    expect(vi.getTimerCount()).toBe(1)
    // With nothing left to wait for (every entry unlinked), the host timer fires once and is not armed again: nothing lingers.
    vi.advanceTimersByTime(10_000)
    expect(vi.getTimerCount()).toBe(0)
    expect(fired).toBe(0)
  })

  it('a disarmed deadline never fires; the host timer, due for it, re-arms for the next one still waiting', () => {
    const lane = new Lane(100, Date.now, now)
    const fired: string[] = []
    const a = lane.arm(() => fired.push('a'))
    vi.advanceTimersByTime(50)
    lane.arm(() => fired.push('b'))
    lane.disarm(a)
    vi.advanceTimersByTime(50)
    expect(fired).toEqual([])
    expect(vi.getTimerCount()).toBe(1)
    vi.advanceTimersByTime(49)
    expect(fired).toEqual([])
    vi.advanceTimersByTime(1)
    expect(fired).toEqual(['b'])
    expect(vi.getTimerCount()).toBe(0)
  })

  it('disarming a deadline twice, or after it fired, unlinks nothing else', () => {
    const lane = new Lane(100, Date.now, now)
    const fired: string[] = []
    const a = lane.arm(() => fired.push('a'))
    const b = lane.arm(() => fired.push('b'))
    lane.disarm(b)
    const c = lane.arm(() => fired.push('c'))
    // b's links are stale: following them would unlink c.
    lane.disarm(b)
    vi.advanceTimersByTime(100)
    expect(fired).toEqual(['a', 'c'])
    const d = lane.arm(() => fired.push('d'))
    lane.disarm(a)
    lane.disarm(c)
    vi.advanceTimersByTime(100)
    expect(fired).toEqual(['a', 'c', 'd'])
    expect(d.lane).toBeUndefined()
  })

  it('a deadline that is due fires when its host timer does, even if the clock reads a hair less (a timer may fire early by rounding)', () => {
    let lag = 0
    const lane = new Lane(100, () => Date.now() - lag, now)
    const fired: string[] = []
    lane.arm(() => fired.push('a'))
    lag = 1
    vi.advanceTimersByTime(100)
    expect(fired).toEqual(['a'])
  })
})

describe('Lane: a host timer is never armed by the timer before it (no chain of nested timers)', () => {
  it("the host timer of a lane under steady traffic stays below nesting level 5 (Chrome's intensive throttling)", () => {
    const fakeSetTimeout = globalThis.setTimeout
    // HTML's timer initialisation steps: a timer set while a timer task runs gets that task's nesting level + 1.
    let running: number | undefined
    const levels: number[] = []
    vi.stubGlobal('setTimeout', (fn: () => void, ms: number) => {
      const level = running === undefined ? 0 : running + 1
      levels.push(level)
      return fakeSetTimeout(() => {
        const outer = running
        running = level
        try {
          fn()
        } finally {
          running = outer
        }
      }, ms)
    })
    // The lane's own task runs outside any timer task, as a message does.
    const ownTask = (run: () => void) => {
      const outer = running
      running = undefined
      try {
        run()
      } finally {
        running = outer
      }
    }
    const lane = new Lane(10_000, Date.now, ownTask)
    // Calls start from network events or promise reactions (nesting level 0), one a second, each taking 3 s.
    const inFlight: ReturnType<Lane['arm']>[] = []
    for (let s = 0; s < 120; s++) {
      inFlight.push(lane.arm(() => {}))
      if (inFlight.length > 3) lane.disarm(inFlight.shift()!)
      vi.advanceTimersByTime(1_000)
    }
    expect(levels.length).toBeGreaterThan(10)
    expect(Math.max(...levels)).toBeLessThan(5)
  })

  it('while the re-arm is on its way, a new deadline waits for it rather than arming a host timer of its own', () => {
    const setTimeoutSpy = vi.spyOn(globalThis, 'setTimeout')
    const queued: (() => void)[] = []
    const lane = new Lane(100, Date.now, (run) => queued.push(run))
    const fired: string[] = []
    lane.arm(() => fired.push('a'))
    vi.advanceTimersByTime(50)
    lane.arm(() => fired.push('b'))
    vi.advanceTimersByTime(50)
    expect(fired).toEqual(['a'])
    expect(queued).toHaveLength(1)
    lane.arm(() => fired.push('c'))
    expect(setTimeoutSpy).toHaveBeenCalledTimes(1)
    queued.shift()!()
    expect(setTimeoutSpy).toHaveBeenCalledTimes(2)
    vi.advanceTimersByTime(49)
    expect(fired).toEqual(['a'])
    vi.advanceTimersByTime(1)
    expect(fired).toEqual(['a', 'b'])
    queued.shift()!()
    vi.advanceTimersByTime(50)
    expect(fired).toEqual(['a', 'b', 'c'])
    expect(queued).toHaveLength(0)
    // Idle again: the next deadline arms a host timer of its own at once.
    lane.arm(() => fired.push('d'))
    vi.advanceTimersByTime(100)
    expect(fired).toEqual(['a', 'b', 'c', 'd'])
  })

  it('a re-arm that arrives after the deadline it was for was disarmed arms nothing', () => {
    const queued: (() => void)[] = []
    const lane = new Lane(100, Date.now, (run) => queued.push(run))
    lane.arm(() => {})
    vi.advanceTimersByTime(50)
    const b = lane.arm(() => {})
    vi.advanceTimersByTime(50)
    lane.disarm(b)
    queued.shift()!()
    expect(vi.getTimerCount()).toBe(0)
    // Idle: the next deadline arms a host timer at once.
    let fired = false
    lane.arm(() => (fired = true))
    vi.advanceTimersByTime(100)
    expect(fired).toBe(true)
  })

  it('messageTask runs each function later, in a task of its own, in order, over one channel', async () => {
    vi.useRealTimers()
    channels.length = 0
    vi.stubGlobal('MessageChannel', FakeChannel)
    const task = messageTask()
    const ran: number[] = []
    const done = new Promise<void>((resolve) => {
      task(() => ran.push(1))
      task(() => ran.push(2))
      task(() => (ran.push(3), resolve()))
    })
    expect(ran).toEqual([])
    await done
    expect(ran).toEqual([1, 2, 3])
    expect(channels).toHaveLength(1)
  })
})

describe('Lane: what arms and what is kept', () => {
  it('a deadline armed by a firing one (from an abort listener) waits for the re-arm: no stray host timer fires a later deadline early', () => {
    const queue: (() => void)[] = []
    const lane = new Lane(1_000, Date.now, (run) => void queue.push(run))
    const deliver = () => queue.splice(0).forEach((run) => run())
    let second: ReturnType<Lane['arm']> | undefined
    // Due at 1000; firing, it arms another (due 2000) in the timer's own callback.
    lane.arm(() => (second = lane.arm(() => {})))
    vi.advanceTimersByTime(500)
    lane.arm(() => {})
    vi.advanceTimersByTime(500)
    expect(vi.getTimerCount()).toBe(0)
    deliver()
    vi.advanceTimersByTime(200)
    lane.disarm(second!)
    let thirdAt: number | undefined
    lane.arm(() => (thirdAt = Date.now() - 1_000_000))
    vi.advanceTimersByTime(300)
    deliver()
    vi.advanceTimersByTime(500)
    deliver()
    vi.advanceTimersByTime(300)
    expect(thirdAt).toBe(2_200)
  })

  it("every instance's lane re-arms through one channel (a started port is kept until closed: not one per instance)", () => {
    channels.length = 0
    vi.stubGlobal('MessageChannel', FakeChannel)
    for (let i = 0; i < 50; i++) {
      const lane = new Lane(100)
      lane.arm(() => {})
      vi.advanceTimersByTime(50)
      lane.arm(() => {})
      // The first falls due with the second left: a re-arm by message, then the second falls due.
      vi.advanceTimersByTime(50)
      vi.advanceTimersByTime(100)
    }
    expect(channels.length).toBeLessThanOrEqual(1)
    expect(vi.getTimerCount()).toBe(0)
  })
})

describe('where host timers are shared', () => {
  it('not in Node (nor in a test of Node with a DOM), Deno, Bun or workerd', () => {
    expect(sharesTimers()).toBe(false)
    vi.stubGlobal('document', {})
    expect(sharesTimers()).toBe(false)
  })

  it('in a page and in a browser worker', () => {
    const shares = (globals: Record<string, unknown>) => {
      for (const [name, value] of Object.entries(globals)) vi.stubGlobal(name, value)
      // Read and restored at once: the test runner itself needs `process`.
      const answer = sharesTimers()
      vi.unstubAllGlobals()
      return answer
    }
    expect(shares({ process: undefined, document: {} })).toBe(true)
    expect(shares({ process: undefined, importScripts: () => {} })).toBe(true)
    // A bundler's process shim is not Node.
    expect(shares({ process: { env: {}, versions: {} }, document: {} })).toBe(true)
    expect(shares({ process: { env: {} }, document: {} })).toBe(true)
    expect(shares({ process: undefined, document: {}, Deno: {} })).toBe(false)
    expect(shares({ process: { versions: { node: '22.0.0', bun: '1.4.4' } }, document: {} })).toBe(false)
    expect(shares({ process: undefined })).toBe(false)
    expect(shares({ process: undefined, document: {}, MessageChannel: undefined })).toBe(false)
  })
})

describe('the attempt deadline where host timers are shared', () => {
  const attempt = (call: Call): Attempt => ({ call, signal: call.signal, start: Date.now() })

  function setup(options = {}) {
    // The lane's own task: a message, delivered here as fake time passes.
    vi.stubGlobal('MessageChannel', FakeChannel)
    const signals: AbortSignal[] = []
    const answers: ((r: Response) => void)[] = []
    const fetch = ((_: unknown, init?: RequestInit) =>
      new Promise((resolve, reject) => {
        signals.push(init!.signal!)
        answers.push(resolve)
        init!.signal!.addEventListener('abort', () => reject(new Error('plain')))
      })) as typeof globalThis.fetch
    const o = normalizeOptions({ fetch, ...options })
    const t = testRuntime(Date.now)
    return { ...t, o, stage: transportStage(o, t.runtime, true), signals, answers }
  }

  it('sequential attempts arm no host timer of their own, and each still times out at its own deadline as our TimeoutError', async () => {
    const { stage, o, answers, signals, totals } = setup({ timeout: { attempt: 1_000, total: false } })
    const setTimeoutSpy = vi.spyOn(globalThis, 'setTimeout')
    for (let i = 0; i < 20; i++) {
      const outcome = stage.run(attempt(testCall({ timeout: o.timeout })))
      await vi.advanceTimersByTimeAsync(10)
      answers[i]!(new Response('ok'))
      expect(await outcome).toMatchObject({ kind: 'response', failure: false })
    }
    expect(setTimeoutSpy).toHaveBeenCalledTimes(1)
    const slow = stage.run(attempt(testCall({ timeout: o.timeout })))
    await vi.advanceTimersByTimeAsync(999)
    expect(signals[20]!.aborted).toBe(false)
    await vi.advanceTimersByTimeAsync(1)
    const result = await slow
    expect(signals[20]!.aborted).toBe(true)
    expect(result).toMatchObject({ kind: 'timeout', failure: true })
    expect((result as { error: TimeoutError }).error).toMatchObject({ name: 'TimeoutError', scope: 'attempt', timeout: 1_000 })
    expect(totals.timeouts).toBe(1)
    expect(signals.slice(0, 20).some((s) => s.aborted)).toBe(false)
  })

  it('a deadline of another length (a per-call timeout, a nearer total) gets a host timer of its own, cleared when the attempt ends', async () => {
    const { stage, answers, signals } = setup({ timeout: { attempt: 1_000, total: false } })
    const outcome = stage.run(attempt(testCall({ timeout: { attempt: 300, total: false } })))
    await vi.advanceTimersByTimeAsync(299)
    expect(signals[0]!.aborted).toBe(false)
    await vi.advanceTimersByTimeAsync(1)
    expect(await outcome).toMatchObject({ kind: 'timeout', error: { scope: 'attempt', timeout: 300 } })
    const answered = stage.run(attempt(testCall({ timeout: { attempt: 300, total: false } })))
    await vi.advanceTimersByTimeAsync(1)
    answers[1]!(new Response('ok'))
    await answered
    expect(vi.getTimerCount()).toBe(0)
  })
})
