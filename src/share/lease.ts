/**
 * The probe lease: when a shared breaker's open window ends, one probe crosses all tabs. A Web Lock per
 * key where there are Web Locks; otherwise a claim written to storage and sent on the bus, where the
 * lowest tab id among the live claims heard wins in every tab.
 */
import type { Message } from './bus.js'
import { finite, type SafeStorage } from './persist.js'
import { now } from '../clock.js'

/**
 * How long a claim (no Web Locks) waits to hear a rival before it counts as won: Chromium delivers
 * channel messages and storage events across tabs in about a millisecond, but tens of ms under load.
 */
const CLAIM_SETTLE_MS = 100
/**
 * The longest a probe's claim lasts: its attempt timeout (30 s when none) up to this. A claim heard or
 * read that lasts longer is damaged or foreign and is ignored: it would refuse every probe until then.
 */
const MAX_CLAIM_MS = 3_600_000
/** Keys whose claims are remembered from the bus (bounded: tabs that die holding a claim never release it). */
const MAX_CLAIMED_KEYS = 1_000

interface Claim {
  owner: string
  until: number
}

export interface LeaseContext {
  name: string
  id: string
  storage: SafeStorage | undefined
  /** Whether claims can reach other tabs at all (a channel or storage). */
  connected: () => boolean
  send: (message: Message) => void
  closed: () => boolean
}

export class ProbeLease {
  /** Live claims heard from other tabs, by key, then by owner. */
  private readonly claims = new Map<string, Map<string, number>>()
  /** Releases of the probes this tab holds, by key. */
  private readonly held = new Map<string, () => void>()
  /** Keys whose claim is waiting to hear a rival: true once withdrawn meanwhile. */
  private readonly claiming = new Map<string, boolean>()

  constructor(private readonly context: LeaseContext) {}

  /** Whether this tab may send the probe for `key`; held until release() or `ttl` ms. */
  acquire(key: string, ttl: number): Promise<boolean> {
    const locks = webLocks()
    const held = Math.min(ttl, MAX_CLAIM_MS)
    return locks === undefined ? this.claimProbe(key, held) : this.lockProbe(locks, key, held)
  }

  release(key: string): void {
    this.held.get(key)?.()
  }

  /** Frees every probe this tab holds or is claiming (the page goes away, or the share closes). */
  releaseAll(): void {
    for (const end of [...this.held.values()]) end()
    for (const key of this.claiming.keys()) {
      this.claiming.set(key, true)
      this.withdraw(key, this.liveClaim(key, now()))
    }
  }

  /** A claim or release another tab sent. */
  hear(message: Extract<Message, { t: 'claim' | 'release' }>): void {
    const owners = this.claims.get(message.key)
    if (message.t === 'release') {
      owners?.delete(message.from)
      if (owners?.size === 0) this.claims.delete(message.key)
      return
    }
    // Every live claim is kept, not the last heard: the lowest id must win in every tab, whatever the arrival order.
    const t = now()
    if (!isClaimUntil(message.until, t)) return
    const live = owners ?? new Map<string, number>()
    for (const [owner, until] of live) if (until <= t) live.delete(owner)
    live.set(message.from, message.until)
    this.claims.delete(message.key)
    this.claims.set(message.key, live)
    if (this.claims.size > MAX_CLAIMED_KEYS) this.claims.delete(this.claims.keys().next().value!)
  }

  /** Back from the back/forward cache: keeps only the heard claims storage still holds, as a release sent meanwhile never came. */
  rejoined(): void {
    const storage = this.context.storage
    // No storage, or one that cannot be listed, cannot tell a released claim from a live one: keep them, not two probes.
    if (storage?.keys(`${this.context.name}:probe:`) === undefined) return
    const t = now()
    for (const [key, owners] of this.claims) {
      const stored = storage.read(this.claimKey(key))
      for (const owner of owners.keys()) if (!isClaim(stored, t) || stored.owner !== owner) owners.delete(owner)
      if (owners.size === 0) this.claims.delete(key)
    }
  }

  /** Drops claims in storage whose time has passed. */
  sweep(): void {
    const t = now()
    this.context.storage?.sweep(`${this.context.name}:probe:`, (value) => (isClaim(value, t) ? value.until : undefined), t)
  }

  private claimKey(key: string): string {
    return `${this.context.name}:probe:${key}`
  }

  /** The winning rival claim: the lowest owner among the live claims in storage and heard, never this tab's. */
  private liveClaim(key: string, t: number): Claim | undefined {
    const id = this.context.id
    let best: Claim | undefined
    const consider = (owner: string, until: number) => {
      if (until > t && owner !== id && (best === undefined || owner < best.owner)) best = { owner, until }
    }
    const stored = this.context.storage?.read(this.claimKey(key))
    if (isClaim(stored, t)) consider(stored.owner, stored.until)
    for (const [owner, until] of this.claims.get(key) ?? []) consider(owner, until)
    return best
  }

  /** Holds the probe until release or the ttl, whichever comes first. */
  private hold(key: string, ttl: number, onEnd: () => void): void {
    const held = this.held
    const timer = setTimeout(end, ttl)
    function end(): void {
      clearTimeout(timer)
      if (held.get(key) === end) held.delete(key)
      onEnd()
    }
    held.set(key, end)
  }

  private lockProbe(locks: LockManager, key: string, ttl: number): Promise<boolean> {
    return new Promise<boolean>((resolve) => {
      let settled = false
      // ifAvailable answers at once; the guard only keeps a broken lock manager from hanging a call.
      const guard = setTimeout(() => {
        settled = true
        resolve(false)
      }, ttl)
      locks
        .request(this.claimKey(key), { ifAvailable: true }, (lock) => {
          clearTimeout(guard)
          if (settled || lock === null || this.context.closed() || this.held.has(key)) {
            if (!settled) resolve(false)
            settled = true
            return undefined
          }
          settled = true
          resolve(true)
          return new Promise<void>((release) => this.hold(key, ttl, release))
        })
        .catch(() => {
          // A lock manager that refuses (an opaque origin, say) leaves the claim path.
          clearTimeout(guard)
          if (settled) return
          settled = true
          resolve(this.claimProbe(key, ttl))
        })
    })
  }

  private async claimProbe(key: string, ttl: number): Promise<boolean> {
    // One probe per key from this tab too, whatever halfOpen.probes allows.
    if (this.held.has(key) || this.claiming.has(key)) return false
    this.claiming.set(key, false)
    try {
      return await this.claim(key, ttl)
    } finally {
      this.claiming.delete(key)
    }
  }

  private async claim(key: string, ttl: number): Promise<boolean> {
    const { id, storage, send } = this.context
    const claimKey = this.claimKey(key)
    let t = now()
    if (this.liveClaim(key, t) !== undefined) return false
    const mine: Claim = { owner: id, until: t + ttl }
    storage?.write(claimKey, JSON.stringify(mine))
    send({ t: 'claim', from: id, key, until: mine.until })
    if (this.context.connected()) {
      // Give a rival's claim time to arrive; the lowest id among live claims wins in every tab.
      await new Promise((r) => setTimeout(r, Math.min(CLAIM_SETTLE_MS, ttl)))
      // Withdrawn while it waited: the page went away or the share closed.
      if (this.claiming.get(key) === true) return false
      t = now()
      const rival = this.liveClaim(key, t)
      if (rival !== undefined && rival.owner < id) {
        this.withdraw(key, rival)
        return false
      }
      // We win: make storage say so even if a losing rival wrote last.
      storage?.write(claimKey, JSON.stringify(mine))
    }
    this.hold(key, Math.max(0, mine.until - t), () => this.withdraw(key, undefined))
    return true
  }

  /**
   * Takes back this tab's claim on `key`, in storage (handed to the winning `rival`, if any) and on the bus: a claim
   * left there would refuse every other tab's probe until it ends.
   */
  private withdraw(key: string, rival: Claim | undefined): void {
    const { id, storage } = this.context
    const claimKey = this.claimKey(key)
    const stored = storage?.read(claimKey)
    if (isClaim(stored, now()) && stored.owner === id) {
      if (rival !== undefined) storage?.write(claimKey, JSON.stringify(rival))
      else storage?.remove(claimKey)
    }
    this.context.send({ t: 'release', from: id, key })
  }
}

function webLocks(): LockManager | undefined {
  try {
    const locks = (globalThis as { navigator?: { locks?: LockManager | null } }).navigator?.locks
    return locks !== undefined && locks !== null && typeof locks.request === 'function' ? locks : undefined
  } catch {
    return undefined
  }
}

/** A claim's end, heard or read at `t`: a number no further ahead than a claim lasts. */
const isClaimUntil = (until: unknown, t: number): until is number => finite(until) && until <= t + MAX_CLAIM_MS

function isClaim(v: unknown, t: number): v is Claim {
  return typeof v === 'object' && v !== null && typeof (v as Claim).owner === 'string' && isClaimUntil((v as Claim).until, t)
}
