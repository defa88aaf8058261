import type { NormalizedHedge, NormalizedThrottle } from '../options.js'
import type { LatencyGate } from './latency.js'
import type { AnyStage } from './pipeline.js'
import type { Gate, Runtime, Stage, Wrapper } from './types.js'

/** A key's state of a stage whose code has not arrived yet: made on first use once it has (`state` is then set, maybe to undefined). */
interface Held {
  readonly key: string
  state?: unknown
}

/** What a stage whose chunk failed to load (or that turned itself off) does: lets everything through. */
const passThrough: AnyStage = { name: '', run: (call, next) => next(call), admit: () => true }

/**
 * A stage whose code loads as its own chunk when the instance is created, so an option that is off
 * costs nothing up front; a call that needs it before the chunk arrives waits for it (once). It is a
 * wrapper (forwards `run`) when `wrapper` is true, else a gate (forwards `admit` and `settle`); `made`
 * is the stage its chunk makes, once loaded.
 */
function lazyStage(name: string, wrapper: boolean, made: Promise<AnyStage | undefined>): AnyStage {
  let stage: AnyStage | undefined
  // A chunk that fails to load leaves the stage off: the calls go on without it.
  const ready = made.then(
    (loaded) => (stage = loaded ?? passThrough),
    () => (stage = passThrough),
  )
  // Only called once the stage is there.
  const stateOf = (held: Held) => {
    if (!('state' in held)) held.state = stage!.forKey?.(held.key)
    return held.state
  }
  const lazy: AnyStage = {
    name,
    forKey: (key): Held => ({ key }),
    busy: (held: Held) => 'state' in held && stage!.busy?.(held.state) === true,
    report(held: Held, snapshot, t) {
      if ('state' in held) stage!.report?.(held.state, snapshot, t)
    },
  }
  if (wrapper) {
    lazy.run = (call, next, held) => (stage ? stage.run!(call, next, stateOf(held as Held)) : ready.then(() => lazy.run!(call, next, held)))
  } else {
    lazy.admit = (held, attempt, t) => (stage ? stage.admit!(stateOf(held as Held), attempt, t) : ready.then(() => lazy.admit!(held, attempt, t)))
    lazy.settle = (held, attempt, ticket, outcome) => stage?.settle?.(stateOf(held as Held), attempt, ticket, outcome)
  }
  return lazy
}

/** The hedge wrapper, loaded as its own chunk. */
export function lazyHedgeStage(options: NormalizedHedge | false, runtime: Runtime, latency: LatencyGate): Wrapper<Held> | undefined {
  if (options) return lazyStage('hedge', true, import('./hedge.js').then((m) => m.hedgeStage(options, runtime, latency))) as Wrapper<Held>
}

/** The throttle gate, loaded as its own chunk. */
export function lazyThrottleStage(options: NormalizedThrottle | false, runtime: Runtime): Gate<Held, unknown> | undefined {
  if (options) return lazyStage('throttle', false, import('./throttle.js').then((m) => m.throttleStage(options, runtime) as Stage)) as Gate<Held>
}

/** The coalescing wrapper, loaded as its own chunk. */
export function lazyCoalesceStage(enabled: boolean, runtime: Runtime): Wrapper<Held> | undefined {
  if (!enabled) return undefined
  const stage = lazyStage('coalesce', true, import('./coalesce.js').then((m) => m.coalesceStage(enabled, runtime)))
  // A GET may join a call in flight (a half-open breaker's probe included) rather than be refused at once.
  stage.answersRefusals = (call) => call.method === 'GET' && call.options?.coalesce !== false
  return stage as Wrapper<Held>
}
