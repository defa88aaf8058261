import type { NormalizedThrottle } from '../options.js'
import { reachedNetwork, refusal, ThrottledError } from '../core.js'
import type { Gate, Priority, Runtime } from './types.js'

const BUCKETS = 20
/** Low-priority calls are shed twice as readily, high-priority ones half as readily. */
const PRIORITY_SCALE: readonly number[] = [0.5, 1, 2]

/**
 * Client-side adaptive throttling for one key (Google SRE book, "Handling Overload"): over the window,
 * `requests` = attempts offered (those shed here included) and `accepts` = attempts whose outcome was
 * not a failure; an attempt is shed with p = max(0, (requests − k·accepts) / (requests + 1)).
 * An attempt is counted when its outcome is known, so attempts in flight never raise p: with a healthy
 * upstream requests = accepts and p is 0.
 */
export class AdaptiveThrottle {
  private readonly epochs = new Float64Array(BUCKETS).fill(-1)
  private readonly requests = new Float64Array(BUCKETS)
  private readonly accepts = new Float64Array(BUCKETS)
  private readonly bucketMs: number

  constructor(private readonly options: NormalizedThrottle) {
    this.bucketMs = options.window / BUCKETS
  }

  /** The probability of shedding an attempt now, scaled by priority and capped; 0 with no history. */
  probability(t: number, priority: Priority): number {
    const epoch = Math.floor(t / this.bucketMs)
    let requests = 0
    let accepts = 0
    for (let i = 0; i < BUCKETS; i++) {
      // In the window, and not from a future the clock was set back from (else it would shed until the clock got there again).
      if (this.epochs[i]! > epoch - BUCKETS && this.epochs[i]! <= epoch) {
        requests += this.requests[i]!
        accepts += this.accepts[i]!
      }
    }
    const p = Math.max(0, (requests - this.options.k * accepts) / (requests + 1))
    return p === 0 ? 0 : Math.min(this.options.maxRejectRate, p * PRIORITY_SCALE[priority]!)
  }

  /**
   * Decides one attempt with the counts from before it: returns the probability it was shed with, or 0 when
   * it may go on. A shed attempt is counted as a request at once; one that goes on is counted by `settle`.
   */
  decide(t: number, priority: Priority, random: () => number = Math.random): number {
    const p = this.probability(t, priority)
    if (p === 0 || random() >= p) return 0
    this.requests[this.bucket(t)]!++
    return p
  }

  /** An attempt that went on has ended: accepted when its outcome was not a failure. */
  settle(t: number, accepted: boolean): void {
    const i = this.bucket(t)
    this.requests[i]!++
    if (accepted) this.accepts[i]!++
  }

  private bucket(t: number): number {
    const epoch = Math.floor(t / this.bucketMs)
    const i = epoch % BUCKETS
    if (this.epochs[i] !== epoch) {
      this.epochs[i] = epoch
      this.requests[i] = 0
      this.accepts[i] = 0
    }
    return i
  }
}

/**
 * The throttle gate, outermost of the per-attempt gates (before the bulkhead and the breaker): sheds an
 * attempt with `ThrottledError`, a refusal that is never retried and that the fallback may answer.
 * Learns from every attempt that reached the network.
 */
export function throttleStage(throttle: NormalizedThrottle | false, runtime: Runtime): Gate<AdaptiveThrottle, true> | undefined {
  if (!throttle) return undefined
  const { events, totals, now } = runtime
  return {
    name: 'throttle',
    forKey: () => new AdaptiveThrottle(throttle),
    admit(state, attempt, t) {
      const probability = state.decide(t, attempt.call.priority)
      if (probability === 0) return true
      const key = attempt.call.key
      totals.throttled++
      events.emit('throttle', { key, probability })
      events.emit('reject', { key, reason: 'throttle' })
      return refusal('throttle', new ThrottledError(key, probability))
    },
    settle(state, _attempt, _ticket, outcome) {
      if (reachedNetwork(outcome)) state.settle(now(), !outcome.failure)
    },
  }
}
