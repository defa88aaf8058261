import type { NormalizedHedge, NormalizedThrottle } from '../options.js'
import type { LatencyGate } from './latency.js'
import type { Gate, Runtime, Stage, Wrapper } from './types.js'

/** A key's state of a stage whose code has not arrived yet: made on first use once it has. */
interface Held {
  readonly key: string
  made: boolean
  state: unknown
}

/**
 * Loads a stage's code as its own chunk when the instance is created, so an option that is off costs
 * nothing up front; a call that needs the stage before the chunk arrives waits for it (once).
 */
function loader<S extends Stage>(load: () => Promise<S | undefined>) {
  let stage: S | undefined
  // A chunk that fails to load leaves the stage off: the calls go on without it.
  const loading = load().then(
    (loaded) => (stage = loaded),
    () => undefined,
  )
  const stateOf = (held: Held) => {
    if (!held.made) {
      held.state = stage!.forKey?.(held.key)
      held.made = true
    }
    return held.state
  }
  const base = {
    forKey: (key: string): Held => ({ key, made: false, state: undefined }),
    busy: (held: Held) => stage !== undefined && held.made && stage.busy?.(held.state) === true,
    report(held: Held, snapshot: Parameters<NonNullable<Stage['report']>>[1], t: number) {
      if (stage !== undefined && held.made) stage.report?.(held.state, snapshot, t)
    },
  }
  return { loading, loaded: () => stage, stateOf, base }
}

/** The hedge wrapper, loaded as its own chunk. */
export function lazyHedgeStage(options: NormalizedHedge | false, runtime: Runtime, latency: LatencyGate): Wrapper<Held> | undefined {
  if (!options) return undefined
  const l = loader(() => import('./hedge.js').then((m) => m.hedgeStage(options, runtime, latency) as Wrapper | undefined))
  return {
    name: 'hedge',
    ...l.base,
    run(call, next, held) {
      const stage = l.loaded()
      if (stage !== undefined) return stage.run(call, next, l.stateOf(held))
      return l.loading.then((loaded) => (loaded === undefined ? next(call) : loaded.run(call, next, l.stateOf(held))))
    },
  }
}

/** The throttle gate, loaded as its own chunk. */
export function lazyThrottleStage(options: NormalizedThrottle | false, runtime: Runtime): Gate<Held, unknown> | undefined {
  if (!options) return undefined
  const l = loader(() => import('./throttle.js').then((m) => m.throttleStage(options, runtime) as Gate | undefined))
  return {
    name: 'throttle',
    ...l.base,
    admit(held, attempt, t) {
      const stage = l.loaded()
      if (stage !== undefined) return stage.admit(l.stateOf(held), attempt, t)
      return l.loading.then((loaded) => (loaded === undefined ? true : loaded.admit(l.stateOf(held), attempt, t)))
    },
    settle(held, attempt, ticket, outcome) {
      l.loaded()?.settle(l.stateOf(held), attempt, ticket, outcome)
    },
  }
}

/** The coalescing wrapper, loaded as its own chunk. */
export function lazyCoalesceStage(enabled: boolean, runtime: Runtime): Wrapper<Held> | undefined {
  if (!enabled) return undefined
  const l = loader(() => import('./coalesce.js').then((m) => m.coalesceStage(enabled, runtime) as Wrapper | undefined))
  return {
    name: 'coalesce',
    ...l.base,
    // A GET may join a call in flight (a half-open breaker's probe included) rather than be refused at once.
    answersRefusals: (call) => call.method === 'GET' && call.options?.coalesce !== false,
    run(call, next, held) {
      const stage = l.loaded()
      if (stage !== undefined) return stage.run(call, next, l.stateOf(held))
      return l.loading.then((loaded) => (loaded === undefined ? next(call) : loaded.run(call, next, l.stateOf(held))))
    },
  }
}
