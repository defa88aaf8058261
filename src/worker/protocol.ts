/**
 * What an isolate (durableObjectShare) and a BreakerCoordinator object say to each other: the
 * message, the answer, and the checks both sides run on what they receive. One POST per message;
 * the object answers every message with its view of the breaker.
 */
import type { BreakerState, SharedBreakerState } from '../types.js'
import { MAX_DURATION } from '../schema.js'

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
  /** Distinct isolates whose failures are in the window before the breaker opens (1: any single isolate's). */
  minReporters: number
}

/** What an isolate sends: its settings, its outcomes since the last message, probe ends, and maybe a permit request. */
export interface CoordinatorMessage {
  options: FleetOptions
  /** Which isolate sends it (random per isolate), so the object can count distinct reporters. */
  reporter?: string
  /** Failures since the last report (probes excluded). */
  failures?: number
  /** Granted probes that ended: [permit, failed] (null: no verdict, the permit is only freed). */
  ends?: [number, boolean | null][]
  /** Ask for a probe permit held for this many ms at most. */
  acquire?: number
}

/** The answer to a permit request. */
export type Grant =
  | { granted: true; permit: number }
  /** Closed: the caller needs no permit. */
  | { granted: true; permit: undefined }
  /** Refused; `retryAt` is the earliest time asking again could succeed. */
  | { granted: false; retryAt: number }

export interface CoordinatorAnswer {
  view: SharedBreakerState
  grant?: Grant
}

/** Where an isolate posts its messages (the host is never resolved: the stub routes to the object). */
export const COORDINATOR_URL = 'https://breaker-coordinator/sync'
/** Longest reporter id accepted. */
const MAX_REPORTER = 64
const MAX_ENDS = 1_000
const STATES: readonly BreakerState[] = ['closed', 'open', 'half-open', 'forced-open', 'disabled']

const positive = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v > 0
const count = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0
const finite = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v)
/** A window or open duration the instance's own breaker accepts: past it, an open would end after what an alarm can hold (workerd: 2189). */
const duration = (v: unknown): v is number => positive(v) && v <= MAX_DURATION

/** The request that carries `message` to the object. */
export function messageRequest(message: CoordinatorMessage): [string, RequestInit] {
  return [COORDINATOR_URL, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(message) }]
}

/**
 * FleetOptions from a message or from storage; undefined when any is missing or not a positive
 * integer, or a duration is longer than a timer can wait (as for the instance's own breaker).
 * `minReporters` may be absent (isolates of an earlier version): 1, as they behaved.
 */
export function readFleetOptions(v: unknown): FleetOptions | undefined {
  if (typeof v !== 'object' || v === null) return undefined
  const o = v as Record<string, unknown>
  if (!positive(o.failureThreshold) || !duration(o.window) || !duration(o.openDuration) || !positive(o.probes) || !positive(o.successesToClose)) {
    return undefined
  }
  const minReporters = o.minReporters === undefined ? 1 : o.minReporters
  if (!positive(minReporters)) return undefined
  return { failureThreshold: o.failureThreshold, window: o.window, openDuration: o.openDuration, probes: o.probes, successesToClose: o.successesToClose, minReporters }
}

/** Validates a message; undefined when anything in it is malformed. */
export function readMessage(v: unknown): CoordinatorMessage | undefined {
  if (typeof v !== 'object' || v === null) return undefined
  const m = v as Record<string, unknown>
  const options = readFleetOptions(m.options)
  if (options === undefined) return undefined
  if (m.failures !== undefined && !count(m.failures)) return undefined
  if (m.acquire !== undefined && !positive(m.acquire)) return undefined
  if (m.reporter !== undefined && (typeof m.reporter !== 'string' || m.reporter.length > MAX_REPORTER)) return undefined
  const message: CoordinatorMessage = { options }
  if (m.reporter !== undefined) message.reporter = m.reporter as string
  if (m.failures !== undefined) message.failures = m.failures as number
  if (m.acquire !== undefined) message.acquire = m.acquire as number
  if (m.ends !== undefined) {
    if (!Array.isArray(m.ends) || m.ends.length > MAX_ENDS) return undefined
    const ends: [number, boolean | null][] = []
    for (const e of m.ends) {
      if (!Array.isArray(e) || !count(e[0]) || !(e[1] === null || typeof e[1] === 'boolean')) return undefined
      ends.push([e[0], e[1]])
    }
    message.ends = ends
  }
  return message
}

/** The one check of a breaker view received from the other side. */
export function readView(v: unknown): SharedBreakerState | undefined {
  if (typeof v !== 'object' || v === null) return undefined
  const view = v as Record<string, unknown>
  if (!STATES.includes(view.state as BreakerState) || !finite(view.at)) return undefined
  if ((view.openedAt !== undefined && !finite(view.openedAt)) || (view.openUntil !== undefined && !finite(view.openUntil))) return undefined
  return view as unknown as SharedBreakerState
}

/** Validates an answer; undefined when anything in it is malformed. */
export function readAnswer(v: unknown): CoordinatorAnswer | undefined {
  if (typeof v !== 'object' || v === null) return undefined
  const a = v as Record<string, unknown>
  const view = readView(a.view)
  if (view === undefined) return undefined
  const answer: CoordinatorAnswer = { view }
  const g = a.grant as Record<string, unknown> | undefined
  if (g !== undefined) {
    if (typeof g !== 'object' || g === null) return undefined
    if (g.granted === true) answer.grant = finite(g.permit) ? { granted: true, permit: g.permit } : { granted: true, permit: undefined }
    // JSON has no Infinity: a refusal with no known end arrives as null.
    else if (g.granted === false && (finite(g.retryAt) || g.retryAt === null)) answer.grant = { granted: false, retryAt: finite(g.retryAt) ? g.retryAt : Infinity }
    else return undefined
  }
  return answer
}
