import type { Stage } from './types.js'

/** Everything kept for one key: each stage's state (by stage index) and the calls still running. */
export interface KeyEntry {
  readonly key: string
  readonly states: readonly unknown[]
  /** Calls of this key not yet settled (waits between retries included): a key with one is never dropped. */
  calls: number
}

/** The keys in use, least recently used first; beyond `maxKeys`, the oldest idle key is dropped. */
export class Keys {
  #entries = new Map<string, KeyEntry>()
  /** The most recently used entry: a run of calls to one key skips the map. */
  #last: KeyEntry | undefined
  #stages: readonly Stage[]
  #maxKeys: number

  constructor(stages: readonly Stage[], maxKeys: number) {
    this.#stages = stages
    this.#maxKeys = maxKeys
  }

  get(key: string): KeyEntry {
    const last = this.#last
    if (last?.key === key) return last
    const entries = this.#entries
    let entry = entries.get(key)
    if (entry === undefined) {
      if (entries.size >= this.#maxKeys) this.#evict()
      entry = { key, states: this.#stages.map((stage) => stage.forKey?.(key)), calls: 0 }
    } else {
      // Re-inserted to mark it most recently used.
      entries.delete(key)
    }
    entries.set(key, entry)
    return (this.#last = entry)
  }

  find(key: string): KeyEntry | undefined {
    return this.#entries.get(key)
  }

  values(): IterableIterator<KeyEntry> {
    return this.#entries.values()
  }

  /** Drops the least recently used key with nothing in flight, if there is one. */
  #evict(): void {
    const stages = this.#stages
    for (const [key, entry] of this.#entries) {
      if (entry.calls === 0 && !stages.some((stage, i) => stage.busy?.(entry.states[i]) === true)) {
        this.#entries.delete(key)
        if (this.#last === entry) this.#last = undefined
        return
      }
    }
  }
}
