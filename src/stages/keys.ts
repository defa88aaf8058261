import type { Stage } from './types.js'

/** Everything kept for one key: each stage's state (by stage index) and the calls still running. */
export class KeyEntry {
  /** Calls of this key not yet settled (waits between retries included): a key with one is never dropped. */
  calls = 0

  constructor(
    readonly key: string,
    readonly states: readonly unknown[],
  ) {}
}

/** The keys in use, least recently used first; beyond `maxKeys`, the oldest idle key is dropped. */
export class Keys {
  private readonly entries = new Map<string, KeyEntry>()
  private last: string | undefined

  constructor(
    private readonly stages: readonly Stage[],
    private readonly maxKeys: number,
  ) {}

  get(key: string): KeyEntry {
    const entry = this.entries.get(key)
    if (entry === undefined) return this.create(key)
    if (this.last !== key) {
      // Re-insert to mark it most recently used.
      this.entries.delete(key)
      this.entries.set(key, entry)
      this.last = key
    }
    return entry
  }

  find(key: string): KeyEntry | undefined {
    return this.entries.get(key)
  }

  values(): IterableIterator<KeyEntry> {
    return this.entries.values()
  }

  private create(key: string): KeyEntry {
    if (this.entries.size >= this.maxKeys) this.evict()
    const entry = new KeyEntry(key, this.stages.map((stage) => stage.forKey?.(key)))
    this.entries.set(key, entry)
    this.last = key
    return entry
  }

  private idle(entry: KeyEntry): boolean {
    if (entry.calls !== 0) return false
    for (let i = 0; i < this.stages.length; i++) if (this.stages[i]!.busy?.(entry.states[i]) === true) return false
    return true
  }

  private evict(): void {
    for (const [key, entry] of this.entries) {
      if (this.idle(entry)) {
        this.entries.delete(key)
        if (this.last === key) this.last = undefined
        return
      }
    }
  }
}
