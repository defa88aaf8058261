import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { CircuitOpenError, createResilientFetch, type BreakerShare, type SharedBreakerState } from '../src/index.js'
import { controlledTransport, flush, statusTransport } from './helpers.js'

const URL_A = 'https://a.test/x'
const KEY = 'https://a.test'

beforeEach(() => {
  vi.useFakeTimers({ now: 1_000_000 })
})
afterEach(() => {
  vi.useRealTimers()
})

/** An in-memory bus: what one participant publishes, the others apply; one probe lease for all. */
function bus() {
  const appliers: ((key: string, s: SharedBreakerState) => void)[] = []
  const published: string[] = []
  const recorded: boolean[] = []
  let lease = false
  const last = new Map<string, SharedBreakerState>()
  const participant = (): BreakerShare => {
    let mine: (key: string, s: SharedBreakerState) => void
    return {
      connect(apply) {
        mine = apply
        appliers.push(apply)
      },
      initial: (key) => last.get(key),
      publish(key, state) {
        published.push(`${key}:${state.state}`)
        last.set(key, state)
        for (const apply of appliers) if (apply !== mine) apply(key, state)
      },
      record: (_key, failure) => void recorded.push(failure),
      acquireProbe: async () => (lease ? false : (lease = true)),
      releaseProbe: () => void (lease = false),
    }
  }
  return { participant, published, recorded }
}

describe('share', () => {
  it('an open decision in one instance makes the others fail fast; a later instance starts open', async () => {
    const b = bus()
    const t = statusTransport(500)
    const options = { fetch: t.fetch, retry: false, fallback: false, breaker: { failureThreshold: 2, openDuration: 1000 } } as const
    const one = createResilientFetch({ ...options, share: b.participant() })
    const two = createResilientFetch({ ...options, share: b.participant() })
    const seen: string[] = []
    two.addEventListener('statechange', (e) => seen.push(`${e.detail.from}>${e.detail.to}`))
    await one(URL_A)
    await one(URL_A)
    expect(b.published).toEqual([`${KEY}:open`])
    expect(two.breaker(KEY)!.state).toBe('open')
    expect(seen).toEqual(['closed>open'])
    await expect(two(URL_A)).rejects.toBeInstanceOf(CircuitOpenError)
    expect(t.mock).toHaveBeenCalledTimes(2)
    // a fresh instance (a reload) starts from the last state it can learn
    const three = createResilientFetch({ ...options, share: b.participant() })
    await expect(three(URL_A)).rejects.toBeInstanceOf(CircuitOpenError)
    expect(b.recorded).toEqual([true, true])
  })

  it('half-open sends one probe across all participants; its success closes every one', async () => {
    const b = bus()
    const c = controlledTransport()
    const options = { fetch: c.fetch, retry: false, fallback: false, timeout: false, breaker: { failureThreshold: 1, openDuration: 1000 } } as const
    const one = createResilientFetch({ ...options, share: b.participant() })
    const two = createResilientFetch({ ...options, share: b.participant() })
    const p = one(URL_A)
    await flush()
    c.pending[0]!.respond(500)
    await p
    vi.advanceTimersByTime(1000)
    const probe = one(URL_A)
    await flush()
    await expect(two(URL_A)).rejects.toBeInstanceOf(CircuitOpenError)
    expect(c.pending).toHaveLength(1)
    c.pending[0]!.respond(200)
    await probe
    expect(one.breaker(KEY)!.state).toBe('closed')
    expect(two.breaker(KEY)!.state).toBe('closed')
  })

  it('a share whose probe lease fails lets the local breaker decide (fail safe)', async () => {
    const share: BreakerShare = { connect() {}, acquireProbe: () => Promise.reject(new Error('coordinator down')) }
    const c = controlledTransport()
    const rf = createResilientFetch({ fetch: c.fetch, retry: false, fallback: false, timeout: false, breaker: { failureThreshold: 1, openDuration: 1000 }, share })
    const p = rf(URL_A)
    await flush()
    c.pending[0]!.respond(500)
    await p
    vi.advanceTimersByTime(1000)
    const probe = rf(URL_A)
    await flush()
    expect(c.pending).toHaveLength(1)
    c.pending[0]!.respond(200)
    await probe
    expect(rf.breaker(KEY)!.state).toBe('closed')
  })

  it('a closed view for a key never used here creates nothing', () => {
    let apply!: (key: string, s: SharedBreakerState) => void
    const rf = createResilientFetch({ fetch: statusTransport(200).fetch, fallback: false, share: { connect: (a) => void (apply = a) } })
    apply(KEY, { state: 'closed', at: Date.now() })
    expect(rf.breaker(KEY)).toBeUndefined()
    expect(rf.snapshot().breakers).toEqual([])
  })

  it("another participant's probe result wins over a half-open this one only noticed", async () => {
    let apply!: (key: string, s: SharedBreakerState) => void
    const rf = createResilientFetch({ fetch: statusTransport(500).fetch, retry: false, fallback: false, breaker: { failureThreshold: 1, openDuration: 1000 }, share: { connect: (a) => void (apply = a) } })
    await rf(URL_A)
    const openedAt = Date.now()
    vi.advanceTimersByTime(1005)
    // The other tab probed and closed at +1001; we notice half-open only now, at +1005.
    expect(rf.breaker(KEY)!.state).toBe('half-open')
    apply(KEY, { state: 'closed', at: openedAt + 1001 })
    expect(rf.breaker(KEY)!.state).toBe('closed')
  })

  it('in half-open, a state decided in the ms its open started but before that open was (dated a ms later) is not taken as a probe result', () => {
    let apply!: (key: string, s: SharedBreakerState) => void
    const rf = createResilientFetch({ fetch: statusTransport(200).fetch, fallback: false, share: { connect: (a) => void (apply = a) } })
    const t0 = Date.now()
    apply(KEY, { state: 'open', at: t0, openedAt: t0, openUntil: t0 + 500 })
    // Decided right after the restored open, in the same ms: dated t0 + 1, started at t0.
    rf.breaker(KEY)!.open(2000)
    vi.advanceTimersByTime(2000)
    expect(rf.breaker(KEY)!.state).toBe('half-open')
    // Another participant's outage switch of t0, sent before it heard either open: older than ours.
    apply(KEY, { state: 'forced-open', at: t0, openedAt: t0 })
    expect(rf.breaker(KEY)!.state).toBe('half-open')
  })

  it('a stale view never overrides a newer local state', async () => {
    let apply!: (key: string, s: SharedBreakerState) => void
    const rf = createResilientFetch({ fetch: statusTransport(200).fetch, fallback: false, share: { connect: (a) => void (apply = a) } })
    await rf(URL_A)
    apply(KEY, { state: 'open', at: Date.now(), openedAt: Date.now(), openUntil: Date.now() + 5000 })
    expect(rf.breaker(KEY)!.state).toBe('open')
    vi.advanceTimersByTime(10)
    rf.breaker(KEY)!.close()
    apply(KEY, { state: 'open', at: Date.now() - 5, openedAt: Date.now() - 5, openUntil: Date.now() + 5000 })
    expect(rf.breaker(KEY)!.state).toBe('closed')
  })

  it('share must be a BreakerShare', () => {
    expect(() => createResilientFetch({ share: {} as never })).toThrow(/share must be a BreakerShare/)
  })
})
