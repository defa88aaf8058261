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
  // Set in the constructor: `declare` emits no class field that would first define them as undefined.
  declare readonly get: (key: string) => KeyEntry
  declare readonly find: (key: string) => KeyEntry | undefined
  declare readonly values: () => IterableIterator<KeyEntry>

  // Closures over locals, not private fields: locals minify to a letter, `this.#field` does not.
  constructor(stages: readonly Stage[], maxKeys: number) {
    const entries = new Map<string, KeyEntry>()
    // The most recently used entry: a run of calls to one key skips the map.
    let last: KeyEntry | undefined

    /** Drops the least recently used key with nothing in flight, if there is one. */
    const evict = (): void => {
      for (const [key, entry] of entries) {
        if (entry.calls === 0 && !stages.some((stage, i) => stage.busy?.(entry.states[i]))) {
          entries.delete(key)
          return
        }
      }
    }

    this.get = (key) => {
      if (last?.key === key) return last
      let entry = entries.get(key)
      if (entry === undefined) {
        if (entries.size >= maxKeys) evict()
        entry = { key, states: stages.map((stage) => stage.forKey?.(key)), calls: 0 }
      } else {
        // Re-inserted to mark it most recently used.
        entries.delete(key)
      }
      entries.set(key, entry)
      return (last = entry)
    }
    this.find = (key) => entries.get(key)
    this.values = () => entries.values()
  }
}
