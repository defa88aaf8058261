import type { NormalizedOptions } from './options.js'
import { Breaker, type StateListener } from './breaker/breaker.js'
import { Bulkhead } from './bulkhead.js'
import { RetryBudget } from './retry.js'

/** Everything kept per key: its breaker, its bulkhead and its retry budget. */
export class Endpoint {
  readonly breaker: Breaker | undefined
  readonly bulkhead: Bulkhead | undefined
  readonly budget: RetryBudget | undefined
  /** Calls of this key not yet settled (including waits between retries). */
  calls = 0

  constructor(key: string, options: NormalizedOptions, onStateChange: StateListener) {
    this.breaker = options.breaker ? new Breaker(key, options.breaker, onStateChange) : undefined
    this.bulkhead = options.bulkhead ? new Bulkhead(key, options.bulkhead) : undefined
    this.budget = options.retry && options.retry.budget ? new RetryBudget(options.retry.budget) : undefined
  }

  get idle(): boolean {
    return this.calls === 0 && !this.breaker?.busy && (this.bulkhead === undefined || (this.bulkhead.active === 0 && this.bulkhead.queued === 0))
  }
}

/** The endpoints by key, least recently used first; idle ones beyond `maxKeys` are dropped. */
export class Registry {
  private readonly endpoints = new Map<string, Endpoint>()
  private last: string | undefined

  constructor(
    private readonly options: NormalizedOptions,
    private readonly onStateChange: StateListener,
  ) {}

  get(key: string): Endpoint {
    let endpoint = this.endpoints.get(key)
    if (endpoint !== undefined) {
      if (this.last !== key) {
        // Re-insert to mark it most recently used.
        this.endpoints.delete(key)
        this.endpoints.set(key, endpoint)
        this.last = key
      }
      return endpoint
    }
    if (this.endpoints.size >= this.options.maxKeys) this.evict()
    endpoint = new Endpoint(key, this.options, this.onStateChange)
    const initial = endpoint.breaker && this.options.share?.initial?.(key)
    if (initial) endpoint.breaker!.adopt(initial)
    this.endpoints.set(key, endpoint)
    this.last = key
    return endpoint
  }

  find(key: string): Endpoint | undefined {
    return this.endpoints.get(key)
  }

  values(): IterableIterator<Endpoint> {
    return this.endpoints.values()
  }

  private evict(): void {
    for (const [key, endpoint] of this.endpoints) {
      if (endpoint.idle) {
        this.endpoints.delete(key)
        return
      }
    }
  }
}
