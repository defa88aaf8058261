/**
 * The contract between the pipeline and its stages.
 *
 * A call passes per-call wrappers (outer to inner: fallback, total deadline, retry; later coalesce
 * and hedge) around a run of per-attempt gates (bulkhead, breaker + probe lease; later throttle)
 * around the attempt deadline and the transport. The chain is built once per instance; each stage
 * is a small object from its own file. Stages never throw for an expected failure: an attempt and
 * a call end as an `Outcome` value, turned into fetch's resolve/reject only at the very end.
 */
import type { CallOptions, ResilienceEventMap, ResilienceEventType, ResilienceSnapshot, ResilienceTotals } from '../types.js'
import type { NormalizedRetry, NormalizedTimeout } from '../options.js'
import type { TimeoutError } from '../errors.js'

/** The one source of time (ms since the epoch). Stages never read Date.now() themselves. */
export type Clock = () => number

// ---------------------------------------------------------------------------------------------
// Outcomes

/** How an attempt (or a whole call) ended. */
export type Outcome = ResponseOutcome | ErrorOutcome | TimeoutOutcome | Refusal | Aborted

/** Response headers arrived. A non-2xx is still a response; `failure` says how the classifier judged it. */
export interface ResponseOutcome {
  readonly kind: 'response'
  readonly response: Response
  /** Judged a failure (default: status >= 500, 408, 429; or the instance's isFailure). */
  readonly failure: boolean
  /** ms from admission to the headers. */
  readonly duration: number
  /** Set when the response is a stored fallback copy: when it was stored (ms epoch). */
  readonly storedAt?: number
  /** The winning attempt was a hedge. */
  readonly hedged?: boolean
  /** The caller joined another caller's request. */
  readonly coalesced?: boolean
}

/** The transport rejected (a network error). Usually a failure; a custom isFailure may say otherwise. */
export interface ErrorOutcome {
  readonly kind: 'error'
  readonly error: unknown
  readonly failure: boolean
  readonly duration: number
}

/** A deadline we armed aborted the attempt (attempt or total scope): the request was really aborted. */
export interface TimeoutOutcome {
  readonly kind: 'timeout'
  readonly error: TimeoutError
  readonly failure: boolean
  readonly duration: number
}

/** Why an attempt never reached the network. */
export type RefusalReason =
  /** breaker open, half-open with no probe slot, or forced open (CircuitOpenError) */
  | 'open'
  /** bulkhead queue full or queueTimeout passed (BulkheadRejectedError) */
  | 'bulkhead'
  /** adaptive throttling shed it (ThrottledError) */
  | 'throttle'
  /** the total deadline passed before the attempt could start (TimeoutError, scope 'total') */
  | 'deadline'
  /** the caller's own code failed: fetch could not build the request (bad method, GET with a body), or isFailure threw; never answered by the fallback */
  | 'request'

/** The attempt never reached the network; nothing upstream is judged. Never retried. */
export interface Refusal {
  readonly kind: 'refused'
  readonly reason: RefusalReason
  /** What the call rejects with if nothing answers the refusal (the fallback may). */
  readonly error: unknown
}

/**
 * The attempt's signal aborted (the caller's, or a hedge's own when it lost): says nothing about the
 * upstream, never recorded, never answered by the fallback.
 */
export interface Aborted {
  readonly kind: 'aborted'
  readonly reason: unknown
}

export function refusal(reason: RefusalReason, error: unknown): Refusal {
  return { kind: 'refused', reason, error }
}

export function aborted(reason: unknown): Aborted {
  return { kind: 'aborted', reason }
}

/** Lets go of an outcome nobody will read: a response's body is cancelled, so its connection is freed. */
export function discard(outcome: Outcome | undefined): void {
  if (outcome?.kind === 'response') outcome.response.body?.cancel().catch(() => {})
}

/**
 * The signals of attempts admitted as a half-open breaker's probe, with that breaker: a hedge or
 * failover race leaves such a loser to finish while the breaker still waits for a probe (`busy`),
 * rather than abort it, so the breaker gets its verdict.
 */
export const probing = new WeakMap<AbortSignal, { readonly busy: boolean }>()

/** Whether a gate's admit answered with a refusal or an abort rather than a ticket. */
export function isDenial(value: unknown): value is Refusal | Aborted {
  // Tickets are often numbers or `true`: only an object's kind is read, so that read sees few shapes (every attempt passes here).
  return typeof value === 'object' && value !== null && !reachedNetwork(value as Outcome)
}

/** Whether the outcome came from the upstream (it reached the network and was judged). */
export function reachedNetwork(outcome: Outcome): outcome is ResponseOutcome | ErrorOutcome | TimeoutOutcome {
  // Every outcome that is not a denial.
  const { kind } = outcome
  return kind !== 'refused' && kind !== 'aborted'
}

export { isFailureStatus } from '../classify.js'

// ---------------------------------------------------------------------------------------------
// Contexts

/** 0 high, 1 normal, 2 low (as src/priority.ts numbers them): queues serve lower numbers first. */
export type Priority = 0 | 1 | 2

/** One `rf()` call as every stage sees it. Built once per call by fetch.ts. */
export interface Call {
  readonly key: string
  /** What the transport is given (a Request with a body is cloned per attempt by the transport stage). */
  readonly input: RequestInfo | URL
  /** fetch's init without `resilience`; the transport replaces `signal` when it arms a deadline. */
  readonly init: RequestInit | undefined
  /** Upper case. */
  readonly method: string
  /** The URL as given (not resolved against a base). */
  readonly url: string
  /** The caller's signal (init.signal wins over the Request's own, as in fetch). */
  readonly signal: AbortSignal | undefined
  readonly timeout: NormalizedTimeout
  readonly retry: NormalizedRetry | false
  readonly priority: Priority
  /** The caller's init had a body fetch can read only once (a stream): never retried nor hedged. Unset (the proxy's calls): false. */
  readonly oneShot?: boolean
  /** The per-call options (`init.resilience`), already checked. */
  readonly options: CallOptions | undefined
  readonly waitUntil: ((promise: Promise<unknown>) => void) | undefined
  /** When the call was made (ms epoch): the total deadline and the retry budget count it from here. */
  readonly at: number
  /** Absolute time (ms epoch) of the total deadline; set by the total deadline stage. */
  deadline: number | undefined
  /** Attempts that reached the transport so far (resilienceInfo's `attempts`). */
  attempts: number
  /**
   * The gates' refusals were just asked for (`Chain.refusal`), in the synchronous turn the call started in: its first
   * attempt, in that same turn, need not ask again. Cleared once that turn's run returns. Unset: false.
   */
  checked?: boolean
  /** The per-key state of every stage, by stage index (see `Stage.forKey`). */
  readonly states: readonly unknown[]
}

/** One attempt of a call. Several may be in flight for one call (hedging). */
export interface Attempt {
  readonly call: Call
  /**
   * The signal that aborts this attempt: the caller's, or (hedging) one of the attempt's own that
   * also follows the caller's. Gates that wait leave on it; the transport follows it.
   */
  readonly signal: AbortSignal | undefined
  /** The attempt's own controller (a hedge's), behind `signal`: the attempt deadline aborts it rather than making a second one. */
  readonly controller?: AbortController
  /** When every gate admitted it (ms epoch); the attempt deadline and `duration` count from here. */
  start: number
  /** When the transport's outcome came (ms epoch), set by the transport: the gates settle with it rather than read the clock again. */
  endedAt?: number
  /**
   * Set by the pipeline: settles the gates that admitted the attempt with its outcome and returns it.
   * The innermost stage that `ends` its attempts resolves with it; nothing else calls it.
   */
  end?(outcome: Outcome): Outcome
}

/**
 * The inner part of the chain, as a wrapper calls it: runs the rest and resolves with its outcome,
 * never rejects. `controller` (an attempt's own, for hedging; it follows the caller's signal) aborts
 * the attempt at the gates and the transport; only the innermost wrapper passes one.
 */
export type Next = (call: Call, controller?: AbortController) => Promise<Outcome>

// ---------------------------------------------------------------------------------------------
// Stages

/** What every stage shares with the instance, given to its factory once. */
export interface Runtime {
  readonly now: Clock
  readonly totals: ResilienceTotals
  /** Builds an event only when someone listens (check `wants` before computing an expensive detail). */
  readonly events: {
    emit<T extends ResilienceEventType>(type: T, detail: ResilienceEventMap[T]): void
    wants(type: ResilienceEventType): boolean
  }
}

/** Common to wrappers and gates. `S` is the stage's state for one key. */
export interface Stage<S = unknown> {
  /** For the chain order test and debugging: 'fallback', 'retry', 'bulkhead', ... */
  readonly name: string
  /** Creates this stage's state for a key, when the key is first used; it is dropped with the key. */
  forKey?(key: string): S
  /** Whether the key's state holds something in flight: a busy key is never evicted. */
  busy?(state: S): boolean
  /** Adds the key's figures to a snapshot (its breakers, bulkheads, latencies). */
  report?(state: S, snapshot: ResilienceSnapshot, t: number): void
}

/** A per-call stage: fallback, total deadline, retry (later coalesce, hedge). */
export interface Wrapper<S = unknown> extends Stage<S> {
  /**
   * Runs the call through `next` (zero, one or several times) and resolves with the call's
   * outcome; never rejects for an expected failure. A wrapper not used by this call returns
   * `next(call)` itself (no extra async frame).
   */
  run(call: Call, next: Next, state: S): Promise<Outcome>
  /** Whether this wrapper may answer a refusal for this call (the fallback): then no synchronous fast refusal. */
  answersRefusals?(call: Call): boolean
}

/** A per-attempt gate: bulkhead, breaker + probe lease (later throttle). `T` is what admit lends the attempt. */
export interface Gate<S = unknown, T = unknown> extends Stage<S> {
  /**
   * Synchronous fast path, before the call enters the async pipeline: a refusal, or undefined.
   * Takes nothing (a later `admit` takes); may count the refusal. Optional.
   */
  refuses?(state: S, call: Call, t: number): Refusal | undefined
  /**
   * Admits the attempt: returns a ticket (whatever `settle` needs: a breaker token, a permit), a
   * refusal, or (after waiting) the abort of `attempt.signal`. Returns a promise only when it must
   * wait (a bulkhead queue, a shared probe lease); never rejects.
   */
  admit(state: S, attempt: Attempt, t: number): T | Refusal | Aborted | Promise<T | Refusal | Aborted>
  /**
   * Exactly once for each admitted attempt, inner gates first, with the attempt's outcome (a
   * refusal by an inner gate and an abort included): gives back what admit took and learns.
   */
  settle(state: S, attempt: Attempt, ticket: T, outcome: Outcome): void
}

/** The innermost stage: arms the attempt deadline, calls the transport, classifies. */
export type Transport = (attempt: Attempt) => Promise<Outcome>
