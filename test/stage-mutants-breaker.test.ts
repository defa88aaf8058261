/**
 * The breaker stage where its other suites left it loose: the reject event's detail, which breakers are busy, what a
 * closed admit leaves alone (no probe mark, no lease), rf.breaker for a Request and for a key only the share knows, and
 * a share whose side of the stage loads as a chunk (it connects and hears what changed meanwhile; a failed load is said).
 */
import { afterEach, describe, expect, it, vi } from 'vitest'
import { normalizeBreaker, normalizeTimeout, type NormalizedBreaker } from '../src/options.js'
import type { Breaker } from '../src/breaker/breaker.js'
import { breakerStage } from '../src/stages/breaker.js'
import { Keys } from '../src/stages/keys.js'
import { probing, type Attempt } from '../src/stages/types.js'
import type { BreakerShare, SharedBreakerState } from '../src/types.js'
import { networkError, testCall, testRuntime } from './stages/helpers.js'

const KEY = 'https://a.test'
const OPTIONS = normalizeBreaker({ window: 'consecutive', failureThreshold: 2 }) as NormalizedBreaker

function setup(share?: BreakerShare, stage = breakerStage) {
  const t = testRuntime(Date.now)
  const gate = stage(OPTIONS, share, t.runtime)!
  const attempt = (signal?: AbortSignal): Attempt => ({ call: testCall({ timeout: normalizeTimeout({ attempt: 1_000, total: false }) }), signal, start: Date.now() })
  return { ...t, gate, attempt }
}

/** Two failures: the consecutive window of two opens the breaker. */
async function openByFailures(gate: ReturnType<typeof setup>['gate'], breaker: Breaker, attempt: () => Attempt) {
  for (let i = 0; i < 2; i++) {
    const a = attempt()
    gate.settle(breaker, a, (await gate.admit(breaker, a, Date.now())) as never, networkError())
  }
}

afterEach(() => {
  vi.doUnmock('../src/breaker/shared.js')
  vi.resetModules()
  vi.restoreAllMocks()
})

describe('breaker stage', () => {
  it('a refusal emits reject with the key and the reason open', () => {
    const { gate, attempt, seen } = setup()
    const breaker = gate.forKey!(KEY) as Breaker
    breaker.open(60_000)
    expect(gate.admit(breaker, attempt(), Date.now())).toMatchObject({ kind: 'refused', reason: 'open' })
    expect(seen.filter((e) => e.type === 'reject').map((e) => e.detail)).toEqual([{ key: KEY, reason: 'open' }])
  })

  it('a closed breaker with nothing in flight is not busy; an open or half-open one is', () => {
    const { gate } = setup()
    const breaker = gate.forKey!(KEY) as Breaker
    expect(gate.busy!(breaker)).toBe(false)
    breaker.open(10)
    expect(gate.busy!(breaker)).toBe(true)
    vi.useFakeTimers({ now: Date.now() })
    try {
      vi.advanceTimersByTime(10)
      expect([breaker.state, gate.busy!(breaker)]).toEqual(['half-open', true])
    } finally {
      vi.useRealTimers()
    }
  })

  it('a closed breaker admits with a token: its attempt is no probe and the share is not asked for a lease', () => {
    const acquireProbe = vi.fn(async () => true)
    const { gate, attempt } = setup({ connect: () => {}, acquireProbe })
    const breaker = gate.forKey!(KEY) as Breaker
    const signal = new AbortController().signal
    expect(typeof gate.admit(breaker, attempt(signal), Date.now())).toBe('number')
    expect(probing.has(signal)).toBe(false)
    expect(acquireProbe).not.toHaveBeenCalled()
  })

  it("a half-open breaker's probe is marked as its breaker's, by its signal", () => {
    const { gate, attempt } = setup()
    const breaker = gate.forKey!(KEY) as Breaker
    vi.useFakeTimers({ now: Date.now() })
    try {
      breaker.open(10)
      vi.advanceTimersByTime(10)
      const signal = new AbortController().signal
      expect(typeof gate.admit(breaker, attempt(signal), Date.now())).toBe('number')
      expect(probing.get(signal)).toBe(breaker)
    } finally {
      vi.useRealTimers()
    }
  })

  it('publishes a change it made itself to the share, never one the share applied', async () => {
    let apply!: (key: string, state: SharedBreakerState) => void
    const publish = vi.fn()
    const { gate, attempt } = setup({ connect: (fn) => void (apply = fn), publish })
    const keys = new Keys([gate], 10)
    gate.attach(keys, 0, () => undefined)
    apply('https://b.test', { state: 'open', at: Date.now(), openedAt: Date.now(), openUntil: Date.now() + 5_000 })
    expect((keys.find('https://b.test')!.states[0] as Breaker).state).toBe('open')
    expect(publish).not.toHaveBeenCalled()
    const breaker = keys.get(KEY).states[0] as Breaker
    await openByFailures(gate, breaker, () => attempt())
    expect(publish.mock.calls.map(([key, state]) => [key, (state as SharedBreakerState).state])).toEqual([[KEY, 'open']])
  })
})

describe('rf.breaker', () => {
  it("finds a Request's breaker through the key function", () => {
    const { gate } = setup()
    const keys = new Keys([gate], 10)
    const control = gate.attach(keys, 0, (target) => (target instanceof Request ? new URL(target.url).origin : undefined))
    const breaker = keys.get(KEY).states[0]
    expect(control(new Request('https://a.test/x'))).toBe(breaker)
  })

  it('makes the key of a breaker only the share knows, so it shows', () => {
    const known = 'https://b.test'
    const { gate } = setup({ connect: () => {}, initial: (key) => (key === known ? { state: 'closed', at: Date.now() } : undefined) })
    const keys = new Keys([gate], 10)
    const control = gate.attach(keys, 0, () => undefined)
    expect(control(known)).toBe(keys.find(known)!.states[0])
    expect(control('https://c.test')).toBeUndefined()
  })
})

describe("a share whose side of the stage is not installed (its chunk loads when the stage is attached)", () => {
  /** The stage module afresh, without the share's side the test setup installed; shared.js wrapped to watch `sharing`. */
  async function freshStage(sharedModule?: () => Record<string, unknown>) {
    vi.resetModules()
    const sharing = vi.fn()
    if (sharedModule !== undefined) vi.doMock('../src/breaker/shared.js', sharedModule)
    else
      vi.doMock('../src/breaker/shared.js', async (importOriginal) => {
        const actual = await importOriginal<typeof import('../src/breaker/shared.js')>()
        sharing.mockImplementation(actual.sharing)
        return { ...actual, sharing }
      })
    const { breakerStage: fresh } = await import('../src/stages/breaker.js')
    const { Keys: FreshKeys } = await import('../src/stages/keys.js')
    return { fresh, FreshKeys, sharing }
  }

  it('is made without it; once attached, the share connects and hears of a breaker that opened by itself meanwhile', async () => {
    const { fresh, FreshKeys, sharing } = await freshStage()
    const connect = vi.fn()
    const publish = vi.fn()
    const share: BreakerShare = { connect, publish }
    const { gate, attempt } = setup(share, fresh)
    const keys = new FreshKeys([gate], 10)
    const breaker = keys.get(KEY).states[0] as Breaker
    gate.attach(keys, 0, () => undefined)
    await openByFailures(gate, breaker, () => attempt())
    expect(publish).not.toHaveBeenCalled()
    await vi.waitFor(() => expect(connect).toHaveBeenCalledTimes(1))
    expect(sharing.mock.calls.map((c) => c[0])).toEqual([share])
    expect(publish.mock.calls.map(([key, state]) => [key, (state as SharedBreakerState).state])).toEqual([[KEY, 'open']])
  })

  it('an instance without a share loads no share side', async () => {
    const { fresh, FreshKeys, sharing } = await freshStage()
    const { gate } = setup(undefined, fresh)
    gate.attach(new FreshKeys([gate], 10), 0, () => undefined)
    // A stage with a share, attached after it: once its share connects, a load the first had started would have ended first.
    const connect = vi.fn()
    const share: BreakerShare = { connect }
    const shared = setup(share, fresh).gate
    shared.attach(new FreshKeys([shared], 10), 0, () => undefined)
    await vi.waitFor(() => expect(connect).toHaveBeenCalledTimes(1))
    expect(sharing.mock.calls.map((c) => c[0])).toEqual([share])
  })

  it('a chunk that will not load leaves the share off, and the console says so naming it', async () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {})
    const { fresh, FreshKeys } = await freshStage(() => {
      throw new Error('chunk failed to load')
    })
    const connect = vi.fn()
    const { gate } = setup({ connect }, fresh)
    gate.attach(new FreshKeys([gate], 10), 0, () => undefined)
    await vi.waitFor(() => expect(warn).toHaveBeenCalledTimes(1))
    expect(warn.mock.calls[0]![0]).toBe('resilient-fetch: share is off:')
    expect(connect).not.toHaveBeenCalled()
  })
})
