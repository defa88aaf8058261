import type { BreakerControl, BreakerShare, RequestInput } from '../types.js'
import type { NormalizedBreaker } from '../options.js'
import { Breaker, MAX_RETRY_AFTER_OPEN, REFUSED } from '../breaker/breaker.js'
import { circuitOpenError } from '../errors.js'
import { parseRetryAfter } from '../retry.js'
import { load, off } from '../preloaded.js'
import type { Keys } from './keys.js'
import { attemptBound } from './total-deadline.js'
import { probing, reachedNetwork, refusal, type Aborted, type Attempt, type Call, type Gate, type Refusal, type Runtime } from './types.js'


/** A breaker token, or a probe that holds the share's lease: `end` tells the share it ended and returns the token. */
export type Ticket = number | { token: number; lease: true; end(): number }

/** A share's side of one instance's breaker stage (src/breaker/shared.ts). */
export interface Shared {
  /** A key's new breaker starts from what the share knows. */
  initial(breaker: Breaker): void
  /** The breaker changed state by itself (not as another participant told it). */
  publish(breaker: Breaker): void
  /** An admitted attempt's outcome, judged. */
  record(call: Call, failure: boolean, slow: boolean): void
  /** Asks the share for a half-open breaker's probe; absent when the share leases none. */
  lease: ((breaker: Breaker, token: number, attempt: Attempt, t: number) => Promise<Ticket | Refusal | Aborted>) | undefined
  /**
   * Connects the share to the breakers of `keys` (at `index` of a key's states), those made already included; `late`
   * (this side loaded after the instance was made): those that changed by themselves meanwhile are news for the share.
   */
  attach(keys: Keys, index: number, late?: boolean): void
  /** Whether the share knows a state for `key`. */
  knows(key: string): boolean
}

/** Makes an instance's side of `share`; `refuse` is its stage's refusal of an open breaker. */
export type Sharing = (share: BreakerShare, refuse: (breaker: Breaker, t: number) => Refusal, options: NormalizedBreaker) => Shared

/** The share's side of the stage, once a share entry installed it or its chunk loaded (src/breaker/shared.ts). */
let sharing: Sharing | undefined
export const useSharing = (given: Sharing): void => void (sharing = given)

/** The breaker gate, with the index of its state in a key's states (for `attach`). */
export interface BreakerGate extends Gate<Breaker, Ticket> {
  /**
   * Connects the share (other tabs, isolates) once the chain is built; returns `rf.breaker(target)`:
   * the breaker of a key, or of the key a URL or Request maps to (`keyOf`).
   */
  attach(keys: Keys, index: number, keyOf: (target: RequestInput) => string | undefined): (target: RequestInput) => BreakerControl | undefined
}

/**
 * The breaker + probe lease gate: one breaker per key; refuses at once while open; in half-open
 * lends at most `probes` attempts a slot (with a share: one probe for all participants).
 * Learns from each admitted attempt's outcome; a 503/429 with Retry-After that is judged a failure opens it until then.
 */
export function breakerStage(options: NormalizedBreaker | false, share: BreakerShare | undefined, runtime: Runtime): BreakerGate | undefined {
  if (!options) return undefined
  const { events, now } = runtime
  const { slowCall, retryAfter } = options

  function refuse(breaker: Breaker, t: number): Refusal {
    events.emit('reject', { key: breaker.key, reason: 'open' })
    return refusal('open', circuitOpenError(breaker.key, breaker.retryAfter(t)))
  }

  // With a share, its side of the stage: here already when a share entry installed it; else its chunk loads when the
  // chain is attached, with the instance, which acts as one without a share until it is there (no call waits for it).
  let shared = share && sharing?.(share, refuse, options)

  /** A key's breaker: its state changes are events, and news for the share; it starts from what the share knows. */
  function forKey(key: string): Breaker {
    const breaker = new Breaker(key, options as NormalizedBreaker, (from, to, remote) => {
      if (from !== to) events.emit('statechange', { key, from, to })
      // While the share's side loads, a change is told once it is there (its `attach`).
      if (!remote) shared?.publish(breaker)
    })
    shared?.initial(breaker)
    return breaker
  }

  return {
    name: 'breaker',
    forKey,
    // A probe in flight, or a breaker not closed: dropping it would send the next call to an upstream it keeps away (a forced open, an outage switch, most of all).
    busy: (breaker) => breaker.busy || breaker.state !== 'closed',
    report: (breaker, snapshot, t) => void snapshot.breakers.push(breaker.snapshot(t)),
    refuses: (breaker, _call, t) => (breaker.refuses(t) ? refuse(breaker, t) : undefined),
    admit(breaker, attempt, t) {
      // A probe's slot is bounded by its attempt's deadline.
      const token = breaker.admit(t, attemptBound(attempt.call, t))
      if (token === REFUSED) return refuse(breaker, t)
      // Admitted with a probe out (this one, at least): half-open, so a probe.
      if (!breaker.busy) return token
      return shared?.lease ? shared.lease(breaker, token, attempt, t) : probe(breaker, attempt.signal, token)
    },
    settle(breaker, attempt, ticket, outcome) {
      const token = typeof ticket === 'number' ? ticket : ticket.end()
      if (!reachedNetwork(outcome)) return breaker.release(token)
      const end = attempt.endedAt ?? now()
      const slow = slowCall !== undefined && outcome.duration > slowCall.duration
      // A stale token moves nothing, a Retry-After open included; one that trips the breaker still extends it.
      const current = breaker.record(token, outcome.failure, slow, end)
      shared?.record(attempt.call, outcome.failure, slow)
      // Only a response isFailure judged a failure may open it: the default judges 503 and 429 so, an owner may forgive one.
      if (current && retryAfter && outcome.kind === 'response' && outcome.failure) {
        // How long the upstream asked for quiet (a 503/429 with Retry-After), at most an hour.
        const { status, headers } = outcome.response
        const quiet = status === 503 || status === 429 ? Math.min(parseRetryAfter(headers.get('retry-after'), end) ?? 0, MAX_RETRY_AFTER_OPEN) : 0
        if (quiet > 0) breaker.openFor(quiet, end)
      }
    },
    attach(keys, index, keyOf) {
      if (shared) shared.attach(keys, index)
      // Late, a share's connect that throws cannot fail the creation any more: advisory, as its other calls, it is let go.
      // A chunk that will not load (a Service Worker refuses import()) leaves the share off, and the console says so.
      else if (share)
        load(undefined, () => import('../breaker/shared.js'))
          .then(
            (m) => (shared = (sharing = m.sharing)(share, refuse, options)).attach(keys, index, true),
            (error: unknown) => off('share', error),
          )
          .catch(() => {})
      return control(keys, index, keyOf, (key) => shared?.knows(key) === true)
    },
  }
}

/** Marks the attempt of `signal` as `breaker`'s probe (see `probing`); returns its ticket. */
export function probe(breaker: Breaker, signal: AbortSignal | undefined, ticket: Ticket): Ticket {
  if (signal) probing.set(signal, breaker)
  return ticket
}

/** `rf.breaker(target)`; `known`: whether the share knows a state for a key. */
function control(keys: Keys, index: number, keyOf: (target: RequestInput) => string | undefined, known: (key: string) => boolean) {
  // A key only the share knows yet (open in another tab, or across the fleet) is created, so it shows.
  const breakerOf = (key: string) => (keys.find(key) ?? (known(key) ? keys.get(key) : undefined))?.states[index] as Breaker | undefined
  return (target: RequestInput): BreakerControl | undefined => {
    if (typeof target === 'string') {
      const found = breakerOf(target)
      if (found) return found
      // A string that is not an absolute URL is a key, never resolved against the page.
      try {
        new URL(target)
      } catch {
        return undefined
      }
    }
    const key = keyOf(target)
    return key === undefined ? undefined : breakerOf(key)
  }
}
