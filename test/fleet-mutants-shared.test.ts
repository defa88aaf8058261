/**
 * An instance's side of a share (src/breaker/shared.ts), as the fleet share drives it: which states of the other
 * participants a breaker takes, and how a half-open probe asks the share. Pinned by mutation testing, through a share
 * the test drives by hand.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { CircuitOpenError, createResilientFetch, TimeoutError, type BreakerShare, type SharedBreakerState } from '../src/index.js'
import { applyAll, supersedes, type Apply } from '../src/breaker/shared.js'
import { controlledTransport, flush, rejection, statusTransport } from './helpers.js'

const URL_A = 'https://a.test/x'
const KEY = 'https://a.test'
const T0 = 1_000_000
const HOUR = 3_600_000

beforeEach(() => {
  vi.useFakeTimers({ now: T0 })
})
afterEach(() => {
  vi.useRealTimers()
})

/** A share the test drives: `apply` is another participant's news, `initial` what it knows of a key. */
function manual(extra: Partial<BreakerShare> = {}) {
  let applier: ((key: string, state: SharedBreakerState) => void) | undefined
  const share: BreakerShare = { connect: (apply) => void (applier = apply), ...extra }
  return { share, apply: (state: SharedBreakerState, key = KEY) => applier!(key, state) }
}

function instance(share: BreakerShare, fetch: typeof globalThis.fetch, breaker: object = { failureThreshold: 2, openDuration: 1_000 }, timeout: unknown = false) {
  return createResilientFetch({ fetch, retry: false, fallback: false, timeout: timeout as false, breaker, share })
}

const nextProbeAt = (rf: ReturnType<typeof createResilientFetch>) => rf.snapshot().breakers.find((b) => b.key === KEY)?.nextProbeAt

describe("which of the others' states a breaker takes", () => {
  it('never half-open, nor a state decided before its own', async () => {
    const m = manual()
    const rf = instance(m.share, statusTransport(500).fetch, { failureThreshold: 1, openDuration: 1_000 })
    await rf(URL_A)
    expect(rf.breaker(KEY)!.state).toBe('open')
    m.apply({ state: 'half-open', at: T0 + 5, openedAt: T0 + 5 })
    expect(rf.breaker(KEY)!.state).toBe('open')
    m.apply({ state: 'closed', at: T0 - 1 })
    expect(rf.breaker(KEY)!.state).toBe('open')
    m.apply({ state: 'closed', at: T0 + 1 })
    expect(rf.breaker(KEY)!.state).toBe('closed')
  })

  it('a closed state of the same ms as its own closed one (its own coming back) keeps its failure window', async () => {
    const m = manual()
    const rf = instance(m.share, statusTransport(500).fetch)
    await rf(URL_A)
    m.apply({ state: 'closed', at: 0 })
    await rf(URL_A)
    expect(rf.breaker(KEY)!.state).toBe('open')
  })

  it('of two opens of the same ms, the one that ends later', async () => {
    const m = manual()
    const rf = instance(m.share, statusTransport(500).fetch, { failureThreshold: 1, openDuration: 1_000 })
    await rf(URL_A)
    expect(nextProbeAt(rf)).toBe(T0 + 1_000)
    m.apply({ state: 'open', at: T0, openedAt: T0, openUntil: T0 + 500 })
    expect(nextProbeAt(rf)).toBe(T0 + 1_000)
    m.apply({ state: 'open', at: T0, openedAt: T0, openUntil: T0 + 2_000 })
    expect(nextProbeAt(rf)).toBe(T0 + 2_000)
    // A close of that ms ends at once: the open wins.
    m.apply({ state: 'closed', at: T0 })
    expect(rf.breaker(KEY)!.state).toBe('open')
  })

  it("half-open, another participant's probe result for its open, decided in that open's ms too", async () => {
    const m = manual()
    const rf = instance(m.share, statusTransport(500).fetch, { failureThreshold: 1, openDuration: 1_000 })
    await rf(URL_A)
    vi.advanceTimersByTime(1_000)
    expect(rf.breaker(KEY)!.state).toBe('half-open')
    m.apply({ state: 'closed', at: T0 - 1 })
    expect(rf.breaker(KEY)!.state).toBe('half-open')
    m.apply({ state: 'closed', at: T0 })
    expect(rf.breaker(KEY)!.state).toBe('closed')
  })

  it('its own state dated more than a second ahead of the clock (set back since) is no newer than what comes', async () => {
    const m = manual()
    const rf = instance(m.share, statusTransport(500).fetch, { failureThreshold: 1, openDuration: 60_000 })
    await rf(URL_A)
    vi.setSystemTime(T0 - 1_000)
    m.apply({ state: 'closed', at: T0 - 2_000 })
    expect(rf.breaker(KEY)!.state).toBe('open')
    vi.setSystemTime(T0 - 1_001)
    m.apply({ state: 'closed', at: T0 - 2_000 })
    expect(rf.breaker(KEY)!.state).toBe('closed')
  })

  it('an open with no end is refused, a forced open with none is taken', async () => {
    const m = manual()
    const rf = instance(m.share, statusTransport(200).fetch)
    await rf(URL_A)
    m.apply({ state: 'open', at: T0 + 1, openedAt: T0 + 1 })
    expect(rf.breaker(KEY)!.state).toBe('closed')
    m.apply({ state: 'forced-open', at: T0 + 2, openedAt: T0 + 2 })
    expect(rf.breaker(KEY)!.state).toBe('forced-open')
    vi.advanceTimersByTime(10 * HOUR)
    expect(rf.breaker(KEY)!.state).toBe('forced-open')
  })

  it('an open lasts at most max(openDuration.max, 1 h) from when it was decided', async () => {
    const short = manual()
    const one = instance(short.share, statusTransport(200).fetch)
    await one(URL_A)
    short.apply({ state: 'open', at: T0, openedAt: T0, openUntil: T0 + 10 * HOUR })
    expect(nextProbeAt(one)).toBe(T0 + HOUR)
    const long = manual()
    const two = instance(long.share, statusTransport(200).fetch, { failureThreshold: 2, openDuration: { base: 1_000, max: 2 * HOUR } })
    await two(URL_A)
    long.apply({ state: 'open', at: T0, openedAt: T0, openUntil: T0 + 10 * HOUR })
    expect(nextProbeAt(two)).toBe(T0 + 2 * HOUR)
    long.apply({ state: 'open', at: T0 + 1, openedAt: T0 + 1, openUntil: T0 + 5_000 })
    expect(nextProbeAt(two)).toBe(T0 + 5_000)
  })

  it('an open that has ended (at now too) leaves a closed breaker as it is, and no older state is taken after it', async () => {
    const m = manual()
    const rf = instance(m.share, statusTransport(500).fetch)
    await rf(URL_A)
    m.apply({ state: 'open', at: T0 - 2_000, openedAt: T0 - 2_000, openUntil: T0 })
    expect(rf.breaker(KEY)!.state).toBe('closed')
    // Older than that ended open, this close is not taken: the failure stays in the window, and the next one opens.
    m.apply({ state: 'closed', at: T0 - 3_000 })
    await rf(URL_A)
    expect(rf.breaker(KEY)!.state).toBe('open')
  })

  it('an open that has ended ends an open breaker too', async () => {
    const m = manual()
    const rf = instance(m.share, statusTransport(500).fetch, { failureThreshold: 1, openDuration: 1_000 })
    await rf(URL_A)
    vi.advanceTimersByTime(10)
    m.apply({ state: 'open', at: T0 + 5, openedAt: T0 + 5, openUntil: T0 + 8 })
    expect(rf.breaker(KEY)!.state).toBe('half-open')
  })

  it("an open creates a key unused here; other news of one is dropped; a share's initial state makes it known", async () => {
    const m = manual({ initial: (key) => (key === 'https://c.test' ? { state: 'open', at: T0, openedAt: T0, openUntil: T0 + 1_000 } : undefined) })
    const rf = instance(m.share, statusTransport(200).fetch)
    m.apply({ state: 'closed', at: T0 }, 'https://b.test')
    expect(rf.breaker('https://b.test')).toBeUndefined()
    m.apply({ state: 'open', at: T0, openedAt: T0, openUntil: T0 + 1_000 })
    expect(rf.breaker(KEY)?.state).toBe('open')
    expect(rf.breaker('https://c.test')?.state).toBe('open')
    await expect(rf('https://c.test/')).rejects.toBeInstanceOf(CircuitOpenError)
    const throwing = instance(manual({ initial: () => { throw new Error('share down') } }).share, statusTransport(200).fetch)
    expect(throwing.breaker(KEY)).toBeUndefined()
    expect((await throwing(URL_A)).status).toBe(200)
  })
})

describe('a half-open probe asks the share', () => {
  /** An instance whose breaker is half-open (opened at T0, 1 s) on a share leasing by `acquireProbe`. */
  async function halfOpen(acquireProbe: BreakerShare['acquireProbe'], timeout: unknown = false) {
    const released: string[] = []
    const c = controlledTransport()
    const m = manual({ acquireProbe, releaseProbe: (key) => void released.push(key) })
    const rf = instance(m.share, c.fetch, { failureThreshold: 1, openDuration: 1_000 }, timeout)
    const first = rf(URL_A)
    await flush()
    c.pending.shift()!.respond(500)
    await first
    vi.advanceTimersByTime(1_000)
    return { rf, c, released }
  }

  it('for as long as the probe may run: its attempt deadline, the total one when that comes first (written alone, below the default attempt one) or is the only one, 30 s with neither', async () => {
    const ttls: number[] = []
    const acquire = async (_key: string, ttl: number) => (ttls.push(ttl), false)
    for (const timeout of [{ attempt: 2_000, total: 30_000 }, { attempt: false, total: 5_000 }, { total: 4_000 }, false]) {
      const { rf } = await halfOpen(acquire, timeout)
      await expect(rf(URL_A)).rejects.toBeInstanceOf(CircuitOpenError)
    }
    expect(ttls).toEqual([2_000, 5_000, 4_000, 30_000])
  })

  it('refused, the call fails fast and the breaker frees its probe slot for the next', async () => {
    let grant = false
    const { rf, c, released } = await halfOpen(async () => grant)
    await expect(rf(URL_A)).rejects.toBeInstanceOf(CircuitOpenError)
    grant = true
    const probe = rf(URL_A)
    await flush()
    c.pending.shift()!.respond(200)
    expect((await probe).status).toBe(200)
    expect(rf.breaker(KEY)!.state).toBe('closed')
    expect(released).toEqual([KEY])
  })

  it('a share that fails lets the probe through, and hears when it ended', async () => {
    const { rf, c, released } = await halfOpen(async () => Promise.reject(new Error('share down')))
    const probe = rf(URL_A)
    await flush()
    expect(c.pending).toHaveLength(1)
    expect(released).toEqual([])
    c.pending.shift()!.respond(200)
    expect((await probe).status).toBe(200)
    expect(released).toEqual([KEY])
  })

  it("past the call's total deadline the wait ends as a total timeout, and a permit that comes after is given back", async () => {
    let answer!: (granted: boolean) => void
    const { rf, c, released } = await halfOpen(() => new Promise<boolean>((resolve) => (answer = resolve)), { attempt: 1_000, total: 3_000 })
    const probe = rejection(rf(URL_A))
    await flush()
    vi.advanceTimersByTime(3_000)
    const error = await probe
    expect(error).toBeInstanceOf(TimeoutError)
    expect((error as TimeoutError).scope).toBe('total')
    expect(c.pending).toHaveLength(0)
    answer(true)
    await flush()
    expect(released).toEqual([KEY])
  })

  it('aborted while waiting, the call rejects with the reason; a refusal that comes after is not given back, a failure is', async () => {
    let answer!: (granted: boolean) => void
    let fail!: (error: Error) => void
    const { rf, released } = await halfOpen(() => new Promise<boolean>((resolve, reject) => ((answer = resolve), (fail = reject))))
    const controller = new AbortController()
    const first = rejection(rf(URL_A, { signal: controller.signal }))
    await flush()
    const reason = new Error('user left')
    controller.abort(reason)
    expect(await first).toBe(reason)
    answer(false)
    await flush()
    expect(released).toEqual([])
    const second = new AbortController()
    const again = rejection(rf(URL_A, { signal: second.signal }))
    await flush()
    second.abort(reason)
    expect(await again).toBe(reason)
    fail(new Error('share down'))
    await flush()
    expect(released).toEqual([KEY])
  })
})

describe("which of the others' states a breaker takes: the same ms, a foreign view, a share of another copy", () => {
  it('of two states of the same ms ending at once, the fixed order decides (disabled over closed)', async () => {
    const m = manual()
    const rf = instance(m.share, statusTransport(200).fetch)
    await rf(URL_A)
    // A fresh breaker is closed since 0.
    m.apply({ state: 'disabled', at: 0 })
    expect(rf.breaker(KEY)!.state).toBe('disabled')
  })

  it('a forced open with no end keeps against an open of the same ms that ends', async () => {
    const m = manual()
    const rf = instance(m.share, statusTransport(200).fetch)
    await rf(URL_A)
    rf.breaker(KEY)!.open()
    m.apply({ state: 'open', at: T0, openedAt: T0, openUntil: T0 + 1_000 })
    expect(rf.breaker(KEY)!.state).toBe('forced-open')
  })

  it('a closed view is taken as a close even when it carries an openUntil that has passed', async () => {
    const m = manual()
    const rf = instance(m.share, statusTransport(500).fetch)
    await rf(URL_A)
    m.apply({ state: 'closed', at: T0 + 1, openUntil: T0 - 5 } as SharedBreakerState)
    // The close emptied the window: one more failure does not reach the threshold of 2.
    await rf(URL_A)
    expect(rf.breaker(KEY)!.state).toBe('closed')
  })

  it('an adopted open keeps when it was first opened, not when it was decided', async () => {
    const m = manual()
    const rf = instance(m.share, statusTransport(200).fetch)
    await rf(URL_A)
    m.apply({ state: 'open', at: T0 + 5, openedAt: T0 - 100, openUntil: T0 + 1_000 })
    expect(rf.snapshot().breakers.find((b) => b.key === KEY)).toMatchObject({ state: 'open', openedAt: T0 - 100, nextProbeAt: T0 + 1_000 })
  })

  it('a share marked with the shared symbol (another copy of the library) keeps hand-set states from its news', async () => {
    const m = manual({ [Symbol.for('resilient-fetch.share.keepsHandSet')]: true } as Partial<BreakerShare>)
    const rf = instance(m.share, statusTransport(200).fetch)
    await rf(URL_A)
    rf.breaker(KEY)!.disable()
    m.apply({ state: 'closed', at: T0 + 1 })
    expect(rf.breaker(KEY)!.state).toBe('disabled')
  })
})

describe('supersedes: what a share remembers', () => {
  const closed = (at: number): SharedBreakerState => ({ state: 'closed', at })
  const open = (at: number, openUntil: number): SharedBreakerState => ({ state: 'open', at, openedAt: at, openUntil })

  it('a later state, whatever it is; of the same ms, the open that ends later, and a state as itself', () => {
    expect(supersedes(closed(6), open(5, 100))).toBe(true)
    expect(supersedes(closed(5), open(6, 100))).toBe(false)
    expect(supersedes(closed(5), open(5, 100))).toBe(false)
    expect(supersedes(open(5, 100), closed(5))).toBe(true)
    expect(supersedes(open(5, 100), open(5, 200))).toBe(false)
    expect(supersedes(open(5, 100), open(5, 100))).toBe(true)
  })
})

describe('applyAll', () => {
  it('tells every instance still there, past collected ones, and forgets only those', () => {
    const told: string[] = []
    // A WeakRef's side applyAll reads: what deref() gives (undefined once collected).
    const ref = (apply?: Apply) => ({ deref: () => apply }) as unknown as WeakRef<Apply>
    const live = (name: string) => ref((key) => void told.push(`${name}:${key}`))
    const [a, b] = [live('a'), live('b')]
    const appliers = [ref(), a, ref(), ref(), b]
    applyAll(appliers, KEY, { state: 'closed', at: T0 })
    expect(told).toEqual([`a:${KEY}`, `b:${KEY}`])
    expect(appliers).toEqual([a, b])
  })
})

describe('a half-open probe asks the share: how the share failed', () => {
  async function probeThrough(failure: unknown) {
    const c = controlledTransport()
    const m = manual({ acquireProbe: () => Promise.reject(failure), releaseProbe: () => {} })
    const rf = instance(m.share, c.fetch, { failureThreshold: 1, openDuration: 1_000 }, { total: 10_000 })
    const first = rf(URL_A)
    await flush()
    c.pending.shift()!.respond(500)
    await first
    vi.advanceTimersByTime(1_000)
    const probe = rf(URL_A)
    await flush()
    expect(c.pending).toHaveLength(1)
    c.pending.shift()!.respond(200)
    expect((await probe).status).toBe(200)
  }

  it('a failure with no message, or with no error at all, lets the probe through', async () => {
    await probeThrough(new Error())
    await probeThrough(undefined)
  })
})
