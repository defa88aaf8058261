/**
 * The breaker a Durable Object keeps for one upstream on behalf of every isolate: a pure state
 * machine on an explicit clock (no Durable Object API), so it is property-tested in Node.
 */
import type { SharedBreakerState } from '../types.js'

/** The settings of the fleet's breaker; the isolates send theirs with every message. */
export interface FleetOptions {
  /** Failures across the fleet within `window` that open the breaker. */
  failureThreshold: number
  /** The failure window, ms. */
  window: number
  /** How long the breaker stays open before probes are allowed, ms. */
  openDuration: number
  /** Probe permits outstanding at once across the fleet in half-open. */
  probes: number
  /** Successful probes that close the breaker. */
  successesToClose: number
}

export type FleetState = 'closed' | 'open' | 'half-open'

/** The answer to a permit request. */
export type Grant =
  | { granted: true; permit: number }
  /** Closed: the caller needs no permit. */
  | { granted: true; permit: undefined }
  /** Refused; `retryAt` is the earliest time asking again could succeed. */
  | { granted: false; retryAt: number }

interface Bucket {
  at: number
  failures: number
}

interface Permit {
  id: number
  expires: number
}

/** Everything the object persists, so an evicted object resumes where it was. */
export interface FleetSnapshot {
  state: FleetState
  changedAt: number
  openedAt: number
  openUntil: number
  buckets: Bucket[]
  permits: Permit[]
  nextPermit: number
  successes: number
  options: FleetOptions
}

/** A probe's outcome must reach the object after its attempt ends: its permit outlives the ttl by this much. */
export const REPORT_GRACE = 1_000
/** The longest probe ttl honoured, ms: a permit never blocks the fleet for longer. */
export const MAX_PROBE_TTL = 120_000
/** The window is kept in at most this many buckets, whatever its length. */
const BUCKETS = 60

/** Edges the machine may take; anything else is a bug. */
export const LEGAL_EDGES: ReadonlySet<string> = new Set(['closed>open', 'open>half-open', 'half-open>open', 'half-open>closed'])

export class FleetBreaker {
  state: FleetState = 'closed'
  /** When the current state was entered (the view's `at`). */
  changedAt: number
  openedAt = 0
  openUntil = 0
  private buckets: Bucket[] = []
  private permits: Permit[] = []
  private nextPermit = 1
  private successes = 0
  /** Bumped on every change worth persisting; the object writes storage only when it moved. */
  revision = 0

  constructor(
    public options: FleetOptions,
    t: number,
    private readonly onTransition?: (from: FleetState, to: FleetState) => void,
  ) {
    this.changedAt = t
  }

  static restore(snapshot: FleetSnapshot, onTransition?: (from: FleetState, to: FleetState) => void): FleetBreaker {
    const b = new FleetBreaker(snapshot.options, snapshot.changedAt, onTransition)
    b.state = snapshot.state
    b.openedAt = snapshot.openedAt
    b.openUntil = snapshot.openUntil
    b.buckets = snapshot.buckets.map((x) => ({ ...x }))
    b.permits = snapshot.permits.map((x) => ({ ...x }))
    b.nextPermit = snapshot.nextPermit
    b.successes = snapshot.successes
    return b
  }

  snapshot(): FleetSnapshot {
    return {
      state: this.state,
      changedAt: this.changedAt,
      openedAt: this.openedAt,
      openUntil: this.openUntil,
      buckets: this.buckets.map((x) => ({ ...x })),
      permits: this.permits.map((x) => ({ ...x })),
      nextPermit: this.nextPermit,
      successes: this.successes,
      options: { ...this.options },
    }
  }

  /** The latest isolate's settings win (a deploy changes them fleet-wide within one message). */
  configure(options: FleetOptions): void {
    const o = this.options
    if (
      o.failureThreshold === options.failureThreshold &&
      o.window === options.window &&
      o.openDuration === options.openDuration &&
      o.probes === options.probes &&
      o.successesToClose === options.successesToClose
    ) {
      return
    }
    this.options = { ...options }
    this.revision++
  }

  /** Outcomes one isolate saw since its last report; only failures while closed move anything. */
  report(t: number, failures: number): void {
    this.tick(t)
    if (this.state !== 'closed' || failures <= 0) return
    const width = Math.max(1, Math.ceil(this.options.window / BUCKETS))
    const last = this.buckets[this.buckets.length - 1]
    if (last !== undefined && t - last.at < width) last.failures += failures
    else this.buckets.push({ at: t, failures })
    this.revision++
    this.prune(t)
    let total = 0
    for (const b of this.buckets) total += b.failures
    if (total >= this.options.failureThreshold) this.trip(t)
  }

  /** A permit for one probe, or a refusal saying when to ask again. */
  acquire(t: number, ttl: number): Grant {
    this.tick(t)
    if (this.state === 'closed') return { granted: true, permit: undefined }
    if (this.state === 'open') return { granted: false, retryAt: this.openUntil }
    if (this.permits.length >= this.options.probes) {
      let retryAt = Infinity
      for (const p of this.permits) retryAt = Math.min(retryAt, p.expires)
      return { granted: false, retryAt }
    }
    const id = this.nextPermit++
    this.permits.push({ id, expires: t + Math.min(Math.max(ttl, 1), MAX_PROBE_TTL) + REPORT_GRACE })
    this.revision++
    return { granted: true, permit: id }
  }

  /** A granted probe ended: `failure` null means it had no verdict (aborted), which only frees the permit. */
  endProbe(t: number, permit: number, failure: boolean | null): void {
    this.tick(t)
    if (this.state !== 'half-open') return
    const i = this.permits.findIndex((p) => p.id === permit)
    // An expired permit or one from an earlier episode: its slot went to someone else already.
    if (i < 0) return
    this.permits.splice(i, 1)
    this.revision++
    if (failure === null) return
    if (failure) this.trip(t)
    else if (++this.successes >= this.options.successesToClose) this.to('closed', t)
  }

  /** The Durable Object's alarm, set at `alarmAt`. */
  alarm(t: number): void {
    this.tick(t)
  }

  /** When the object must wake up by itself: the end of an open window. */
  get alarmAt(): number | undefined {
    return this.state === 'open' ? this.openUntil : undefined
  }

  /** Permits not yet ended nor expired at `t`. */
  outstanding(t: number): number {
    let n = 0
    for (const p of this.permits) if (p.expires > t) n++
    return this.state === 'half-open' ? n : 0
  }

  /** Failures inside the window at `t`. */
  failures(t: number): number {
    let n = 0
    for (const b of this.buckets) if (b.at > t - this.options.window) n += b.failures
    return this.state === 'closed' ? n : 0
  }

  view(t: number): SharedBreakerState {
    this.tick(t)
    if (this.state === 'closed') return { state: 'closed', at: this.changedAt }
    if (this.state === 'open') return { state: 'open', at: this.changedAt, openedAt: this.openedAt, openUntil: this.openUntil }
    return { state: 'half-open', at: this.changedAt, openedAt: this.openedAt }
  }

  /** Time-driven edges: the alarm drives open → half-open, and so does any message that arrives after a late alarm. */
  private tick(t: number): void {
    if (this.state === 'open' && t >= this.openUntil) this.to('half-open', t)
    if (this.state !== 'half-open') return
    const before = this.permits.length
    this.permits = this.permits.filter((p) => p.expires > t)
    if (this.permits.length !== before) this.revision++
  }

  private prune(t: number): void {
    const from = t - this.options.window
    let i = 0
    while (i < this.buckets.length && this.buckets[i].at <= from) i++
    if (i > 0) this.buckets.splice(0, i)
  }

  private trip(t: number): void {
    this.openedAt = t
    this.openUntil = t + this.options.openDuration
    this.to('open', t)
  }

  private to(state: FleetState, t: number): void {
    const from = this.state
    this.state = state
    this.changedAt = t
    this.permits = []
    this.successes = 0
    // The window is what opened the breaker; a close starts the fleet from nothing.
    if (state === 'closed' || state === 'open') this.buckets = []
    this.revision++
    this.onTransition?.(from, state)
  }
}

const positive = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v > 0

/** Reads FleetOptions from a message; undefined when any is missing or not a positive integer. */
export function readFleetOptions(v: unknown): FleetOptions | undefined {
  if (typeof v !== 'object' || v === null) return undefined
  const o = v as Record<string, unknown>
  if (!positive(o.failureThreshold) || !positive(o.window) || !positive(o.openDuration) || !positive(o.probes) || !positive(o.successesToClose)) {
    return undefined
  }
  return { failureThreshold: o.failureThreshold, window: o.window, openDuration: o.openDuration, probes: o.probes, successesToClose: o.successesToClose }
}
