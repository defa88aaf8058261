import type { NormalizedHedge, NormalizedThrottle } from '../options.js'
import { within } from '../within.js'
import { load, off, preloaded } from '../preloaded.js'
import type { AnyStage } from './pipeline.js'
import { pastTotal } from './total-deadline.js'
import { aborted, type Aborted, type Call, type Clock, type Gate, type Runtime, type Stage, type Wrapper } from './types.js'

/** A key's state of a stage whose code has not arrived yet: made on first use once it has (`state` is then set, maybe to undefined). */
interface Held {
  readonly key: string
  state?: unknown
}

/** What a stage whose chunk failed to load (or that turned itself off) does: lets everything through. */
const passThrough: AnyStage = { name: '', run: (call, next) => next(call), admit: () => true }

/**
 * A stage whose code loads as its own chunk when the instance is created, so an option that is off
 * costs nothing up front; a call that needs it before the chunk arrives waits for it (once), no longer
 * than the call's abort and its total deadline. It is a wrapper (forwards `run`) when `wrapper` is true,
 * else a gate (forwards `admit` and `settle`); `made` is the stage its chunk makes, once loaded.
 */
function lazyStage(name: string, wrapper: boolean, made: Promise<AnyStage | undefined>, now: Clock): AnyStage {
  let stage: AnyStage | undefined
  // A chunk that fails to load leaves the stage off: the calls go on without it. The console says so, once per instance:
  // no event fits (`storeerror` is the store's).
  const ready = made.then(
    (loaded) => (stage = loaded ?? passThrough),
    (error: unknown) => {
      off(name, error)
      stage = passThrough
    },
  )
  // Only called once the stage is there.
  const stateOf = (held: Held) => {
    if (!('state' in held)) held.state = stage!.forKey?.(held.key)
    return held.state
  }
  /**
   * Waits for the chunk, then `go`; the wait ends at `signal`'s abort (as that abort) or at the call's total deadline
   * (counted from the call's start: the outermost stage waits before the deadline stage sets it), then `late`.
   */
  const wait = <T>(call: Call, signal: AbortSignal | undefined, go: () => T | PromiseLike<T>, late: () => T | PromiseLike<T>): Promise<T | Aborted> => {
    const total = call.timeout.total
    return within(ready, total === false ? undefined : call.at + total - now(), '', signal).then(go, () => (signal?.aborted ? aborted(signal.reason) : late()))
  }
  const lazy: AnyStage = {
    name,
    forKey: (key): Held => ({ key }),
    busy: (held: Held) => 'state' in held && !!stage!.busy?.(held.state),
    report(held: Held, snapshot, t) {
      if ('state' in held) stage!.report?.(held.state, snapshot, t)
    },
  }
  if (wrapper) {
    // At the deadline the call goes on without the stage: the gates refuse it as a timeout (reported), which the fallback may answer.
    lazy.run = (call, next, held) => (stage ? stage.run!(call, next, stateOf(held as Held)) : wait(call, call.signal, () => lazy.run!(call, next, held), () => next(call)))
  } else {
    // A hedge's own abort (it lost) ends its wait too; the deadline is a refusal as the bulkhead's (the pipeline reports the timeout).
    lazy.admit = (held, attempt, t) =>
      stage
        ? stage.admit!(stateOf(held as Held), attempt, t)
        : wait(attempt.call, attempt.signal, () => lazy.admit!(held, attempt, now()), () => pastTotal(attempt.call))
    lazy.settle = (held, attempt, ticket, outcome) => stage?.settle?.(stateOf(held as Held), attempt, ticket, outcome)
  }
  return lazy
}

/** The hedge wrapper, loaded as its own chunk. */
export function lazyHedgeStage(options: NormalizedHedge | false, runtime: Runtime): Wrapper<Held> | undefined {
  if (options) return lazyStage('hedge', true, load(preloaded.hedge, () => import('./hedge.js')).then((m) => m.hedgeStage(options, runtime)), runtime.now) as Wrapper<Held>
}

/** The throttle gate, loaded as its own chunk. */
export function lazyThrottleStage(options: NormalizedThrottle | false, runtime: Runtime): Gate<Held, unknown> | undefined {
  if (options) return lazyStage('throttle', false, load(preloaded.throttle, () => import('./throttle.js')).then((m) => m.throttleStage(options, runtime) as Stage), runtime.now) as Gate<Held>
}

/** The coalescing wrapper, loaded as its own chunk. */
export function lazyCoalesceStage(enabled: boolean, runtime: Runtime): Wrapper<Held> | undefined {
  if (!enabled) return undefined
  const stage = lazyStage('coalesce', true, load(preloaded.coalesce, () => import('./coalesce.js')).then((m) => m.coalesceStage(enabled, runtime)), runtime.now)
  // A GET may join a call in flight (a half-open breaker's probe included) rather than be refused at once.
  stage.answersRefusals = (call) => call.method === 'GET' && call.options?.coalesce !== false
  return stage as Wrapper<Held>
}
