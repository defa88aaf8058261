/**
 * The breaker a Durable Object keeps for one upstream on behalf of every isolate: a pure state
 * machine on an explicit clock (no Durable Object API), so it is property-tested in Node. It
 * counts with the library's own time window, and opens only when the failures in it come from
 * at least `minReporters` distinct isolates: one isolate on a bad network path opens its own
 * breaker, never the fleet's.
 */
import { timeWindow } from '../breaker/time.js'
import { FAILURES, trips, type Window } from '../breaker/window.js'
import type { SharedBreakerState } from '../types.js'
import type { FleetOptions, Grant } from './protocol.js'

export type FleetState = 'closed' | 'open' | 'half-open'

/** Failures one isolate reported, merged per tenth of the window: [at, reporter, failures]. */
type Report = [number, string, number]

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
  /** The failures in the window, by reporter; the window is rebuilt from them. */
  reports: Report[]
  permits: Permit[]
  nextPermit: number
  successes: number
  options: FleetOptions
}

/** A probe's outcome must reach the object after its attempt ends: its permit outlives the ttl by this much. */
export const REPORT_GRACE = 1_000
/** The longest probe ttl honoured, ms: a permit never blocks the fleet for longer. */
export const MAX_PROBE_TTL = 120_000
/** Reports kept (oldest dropped first), whatever the traffic: the window and the reporters are bounded. */
const MAX_REPORTS = 256
/** The time window's buckets (src/breaker/time.ts): a report ages out with its bucket. */
const BUCKETS = 10

/** Edges the machine may take; anything else is a bug. */
export const LEGAL_EDGES: ReadonlySet<string> = new Set(['closed>open', 'open>half-open', 'half-open>open', 'half-open>closed'])

export class FleetBreaker {
  state: FleetState = 'closed'
  /** When the current state was entered (the view's `at`). */
  changedAt: number
  openedAt = 0
  openUntil = 0
  /** The failures in the window (the library's time window), and who reported them. */
  private window: Window
  private reports: Report[] = []
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
    this.window = timeWindow(options.window)
  }

  static restore(snapshot: FleetSnapshot, onTransition?: (from: FleetState, to: FleetState) => void): FleetBreaker {
    const b = new FleetBreaker(snapshot.options, snapshot.changedAt, onTransition)
    b.state = snapshot.state
    b.openedAt = snapshot.openedAt
    b.openUntil = snapshot.openUntil
    // A snapshot from before reporters were counted has no reports: its window starts empty.
    b.reports = (snapshot.reports ?? []).map((r) => [r[0], r[1], r[2]] as Report)
    b.recount()
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
      reports: this.reports.map((r) => [r[0], r[1], r[2]] as Report),
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
      o.successesToClose === options.successesToClose &&
      o.minReporters === options.minReporters
    ) {
      return
    }
    const resized = o.window !== options.window
    this.options = { ...options }
    if (resized) {
      this.window = timeWindow(options.window)
      this.recount()
    }
    this.revision++
  }

  /**
   * Failures one isolate (`reporter`) saw since its last report; they count while closed, and while
   * half-open with no permit out. Opens when the window holds `failureThreshold` failures from `minReporters` isolates.
   */
  report(t: number, failures: number, reporter = ''): void {
    this.tick(t)
    if (!this.counting || failures <= 0) return
    // More than the threshold from one report decides nothing more, and keeps replay on restore short.
    const n = Math.min(failures, this.options.failureThreshold)
    for (let i = 0; i < n; i++) this.window.record(true, false, t)
    this.journal(t, reporter, n)
    this.revision++
    if (this.tripped(t)) this.trip(t)
  }

  /** Distinct isolates whose failures are in the window at `t`. */
  reporters(t: number): number {
    if (this.state === 'open') return 0
    const seen = new Set<string>()
    for (const [at, reporter] of this.reports) if (this.inWindow(at, t)) seen.add(reporter)
    return seen.size
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

  /** When the object must wake up by itself: the end of an open window, or when the last failure leaves the window. */
  get alarmAt(): number | undefined {
    if (this.state === 'open') return this.openUntil
    if (this.state !== 'closed' || this.reports.length === 0) return undefined
    let newest = -Infinity
    for (const [at] of this.reports) newest = Math.max(newest, at)
    return Math.ceil((this.bucketOf(newest) + BUCKETS) * (this.options.window / BUCKETS))
  }

  /** Closed with nothing in its window (as of the last tick): where a new object starts, so nothing to keep. */
  get idle(): boolean {
    return this.state === 'closed' && this.reports.length === 0
  }

  /** Permits not yet ended nor expired at `t`. */
  outstanding(t: number): number {
    let n = 0
    for (const p of this.permits) if (p.expires > t) n++
    return this.state === 'half-open' ? n : 0
  }

  /** Failures inside the window at `t`. */
  failures(t: number): number {
    if (this.state === 'open') return 0
    return this.window.counts(t)[FAILURES]!
  }

  view(t: number): SharedBreakerState {
    this.tick(t)
    if (this.state === 'closed') return { state: 'closed', at: this.changedAt }
    if (this.state === 'open') return { state: 'open', at: this.changedAt, openedAt: this.openedAt, openUntil: this.openUntil }
    return { state: 'half-open', at: this.changedAt, openedAt: this.openedAt }
  }

  /**
   * Time-driven edges: the alarm drives open → half-open, and so does any message that arrives after a
   * late alarm. Closed or half-open, the reports that left the window are dropped.
   */
  private tick(t: number): void {
    if (this.state === 'closed') return this.forget(t)
    if (this.state === 'open' && t >= this.openUntil) this.to('half-open', t)
    if (this.state !== 'half-open') return
    const before = this.permits.length
    this.permits = this.permits.filter((p) => p.expires > t)
    if (this.permits.length !== before) this.revision++
    this.forget(t)
  }

  /**
   * Whether reported failures count: closed, and half-open with no permit out. There no probe speaks for the fleet (every
   * isolate may have closed without one: by hand, or by a probe let through while the object was unreachable), and the
   * isolates that call freely must still be able to open it.
   */
  private get counting(): boolean {
    return this.state === 'closed' || (this.state === 'half-open' && this.permits.length === 0)
  }

  /** The breaker's trip rule on the fleet's window, and the failures from enough isolates. */
  private tripped(t: number): boolean {
    return trips(this.window, this.options, t) && this.reporters(t) >= this.options.minReporters
  }

  /** Records who reported, merged per reporter and bucket, dropping what left the window. */
  private journal(t: number, reporter: string, n: number): void {
    const bucket = this.bucketOf(t)
    const same = this.reports.find((r) => r[1] === reporter && this.bucketOf(r[0]) === bucket)
    if (same !== undefined) same[2] = Math.min(same[2] + n, this.options.failureThreshold)
    else this.reports.push([t, reporter, n])
    this.reports = this.reports.filter((r) => this.inWindow(r[0], t))
    if (this.reports.length > MAX_REPORTS) this.reports.splice(0, this.reports.length - MAX_REPORTS)
  }

  private forget(t: number): void {
    const before = this.reports.length
    this.reports = this.reports.filter((r) => this.inWindow(r[0], t))
    if (this.reports.length !== before) this.revision++
  }

  /** The window counts again from the reports (after a restore or a new window length). */
  private recount(): void {
    this.window.reset()
    for (const [at, , n] of this.reports) for (let i = 0; i < n; i++) this.window.record(true, false, at)
  }

  private bucketOf(t: number): number {
    return Math.floor(t / (this.options.window / BUCKETS))
  }

  /** In the window exactly when the time window still counts it: its bucket is one of the last BUCKETS. */
  private inWindow(at: number, t: number): boolean {
    const bucket = this.bucketOf(at)
    const current = this.bucketOf(t)
    return bucket > current - BUCKETS && bucket <= current
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
    if (state === 'closed' || state === 'open') {
      this.reports = []
      this.window.reset()
    }
    this.revision++
    this.onTransition?.(from, state)
  }
}
