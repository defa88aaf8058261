/**
 * `resilient-fetch/share`: breakers shared by the tabs of one origin, and kept across reloads.
 * Web standards only (BroadcastChannel, localStorage, Web Locks); each one that is missing degrades
 * the share, never a call.
 */
import type { BreakerShare, BreakerState, SharedBreakerState } from '../types.js'

export interface ShareAcrossTabsOptions {
  /**
   * The BroadcastChannel's name and the localStorage namespace. Instances with the same name share
   * breakers; give unrelated apps on one origin different names.
   * @default 'resilient-fetch'
   */
  name?: string
}

/** A `BreakerShare` for tabs, plus `close()` to leave the share (stops listening, frees a held probe). */
export interface TabShare extends BreakerShare {
  connect(apply: (key: string, state: SharedBreakerState) => void): void
  initial(key: string): SharedBreakerState | undefined
  publish(key: string, state: SharedBreakerState): void
  acquireProbe(key: string, ttl: number): Promise<boolean>
  releaseProbe(key: string): void
  close(): void
}

type Apply = (key: string, state: SharedBreakerState) => void

type Message =
  | { t: 'state'; from: string; key: string; state: SharedBreakerState }
  | { t: 'claim'; from: string; key: string; until: number }
  | { t: 'release'; from: string; key: string }

interface Claim {
  owner: string
  until: number
}

const STATES: readonly BreakerState[] = ['closed', 'open', 'half-open', 'forced-open', 'disabled']
/**
 * How long a claim (no Web Locks) waits to hear a rival before it counts as won: Chromium delivers
 * channel messages and storage events across tabs in about a millisecond, but tens of ms under load.
 */
const CLAIM_SETTLE_MS = 100
/** States remembered from the channel, for keys this tab creates later (bounded like maxKeys). */
const MAX_HEARD = 1_000

/**
 * Shares every breaker of an instance with the other tabs of the origin, and across reloads:
 * `createResilientFetch({ share: shareAcrossTabs() })`.
 *
 * - An open (or timed forced-open) decision in one tab reaches the others over a BroadcastChannel
 *   (under a millisecond in Chromium, see bench/share-tabs.mjs), so they fail fast instead of each
 *   paying `failureThreshold` failures of its own.
 * - It is kept in localStorage until its open window ends, so a reload within it starts open.
 *   A forced open with no end is broadcast but not kept: it would outlive the page that chose it.
 * - When the window ends, one probe crosses all tabs (a Web Lock per key, held until the probe's
 *   response or its attempt timeout); its outcome closes or re-opens every tab.
 *
 * Turn it on when users keep several tabs of the app open, or reload it while an upstream is down:
 * without it each tab (and each reload) learns the outage again and sends its own probes. Leave it
 * off for single-page sessions and in Workers (use `durableObjectShare()` there).
 *
 * Cost: nothing per call. Per state change, one postMessage and one synchronous localStorage write;
 * per key first used, one localStorage read; per half-open probe, one lock request (without Web
 * Locks, a claim that waits 100 ms to hear a rival); one BroadcastChannel held open. Other tabs'
 * messages create the key's breaker in this instance, so it counts towards `maxKeys`.
 *
 * Degrades to local-only, never throwing into a call: without BroadcastChannel it uses `storage`
 * events; without localStorage (private mode, quota, disabled) reloads start closed; without Web
 * Locks the probe is claimed in storage and on the channel, which leaves a race: two tabs claiming
 * at once both probe when one hears nothing of the other's claim within 100 ms.
 */
export function shareAcrossTabs(options?: ShareAcrossTabsOptions): TabShare {
  const name = checkOptions(options)
  const id = `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`
  const stateKey = (key: string) => `${name}:breaker:${key}`
  const claimKey = (key: string) => `${name}:probe:${key}`
  const messageKey = `${name}:message`
  const lockName = (key: string) => `${name}:probe:${key}`

  const storage = localStorageOrUndefined()
  const appliers: Apply[] = []
  const heard = new Map<string, SharedBreakerState>()
  const claims = new Map<string, Claim>()
  /** Releases of the probes this tab holds, by key. */
  const held = new Map<string, () => void>()
  /** Keys whose claim is waiting to hear a rival. */
  const claiming = new Set<string>()
  let channel: BroadcastChannel | undefined
  let onStorage: ((event: StorageEvent) => void) | undefined
  // A page going away frees its claimed probe at once, as the browser does for a Web Lock.
  const onPageHide = () => {
    for (const end of [...held.values()]) end()
  }
  let sent = 0
  let closed = false

  function receive(data: unknown): void {
    const m = asMessage(data)
    if (m === undefined || m.from === id || closed) return
    if (m.t === 'claim') {
      claims.set(m.key, { owner: m.from, until: m.until })
      // Claims of tabs that died holding them are never released: keep the map bounded.
      if (claims.size > MAX_HEARD) claims.delete(claims.keys().next().value!)
    } else if (m.t === 'release') {
      if (claims.get(m.key)?.owner === m.from) claims.delete(m.key)
    } else {
      remember(m.key, m.state)
      for (const apply of appliers.slice()) {
        try {
          apply(m.key, m.state)
        } catch {
          // Another tab's message must never throw into this one's event loop.
        }
      }
    }
  }

  function remember(key: string, state: SharedBreakerState): void {
    const last = heard.get(key)
    if (last !== undefined && last.at > state.at) return
    heard.delete(key)
    heard.set(key, state)
    if (heard.size > MAX_HEARD) heard.delete(heard.keys().next().value!)
  }

  function send(message: Message): void {
    if (channel !== undefined) {
      try {
        channel.postMessage(message)
      } catch {
        // A closed or unusable channel leaves this tab local-only.
      }
    } else if (storage !== undefined && onStorage !== undefined) {
      // The counter makes every message a change, so other tabs get a storage event even for a repeat.
      write(messageKey, JSON.stringify({ ...message, n: ++sent }))
    }
  }

  function read(key: string): unknown {
    if (storage === undefined) return undefined
    try {
      const raw = storage.getItem(key)
      return raw === null ? undefined : JSON.parse(raw)
    } catch {
      remove(key)
      return undefined
    }
  }

  function write(key: string, value: string): void {
    try {
      storage?.setItem(key, value)
    } catch {
      // Quota or disabled storage: the share goes on without persistence.
    }
  }

  function remove(key: string): void {
    try {
      storage?.removeItem(key)
    } catch {
      // As above: storage is best effort.
    }
  }

  function storedState(key: string): SharedBreakerState | undefined {
    const value = read(stateKey(key))
    if (value === undefined) return undefined
    if (!isView(value) || !(value.openUntil !== undefined && value.openUntil > Date.now())) {
      remove(stateKey(key))
      return undefined
    }
    return value
  }

  /** Drops entries whose window has passed, left by tabs that closed while open. */
  function sweep(): void {
    if (storage === undefined) return
    const ours: string[] = []
    try {
      for (let i = 0; i < storage.length; i++) {
        const k = storage.key(i)
        if (k !== null && (k.startsWith(`${name}:breaker:`) || k.startsWith(`${name}:probe:`))) ours.push(k)
      }
    } catch {
      return
    }
    // Read after listing: read() removes corrupt entries, which would shift the indexes above.
    const t = Date.now()
    for (const k of ours) {
      const value = read(k)
      const until = isView(value) ? value.openUntil : isClaim(value) ? value.until : undefined
      if (until === undefined || until <= t) remove(k)
    }
  }

  function liveClaim(key: string, t: number): Claim | undefined {
    const stored = read(claimKey(key))
    const heardClaim = claims.get(key)
    let best: Claim | undefined
    for (const c of [isClaim(stored) ? stored : undefined, heardClaim]) {
      if (c !== undefined && c.until > t && c.owner !== id && (best === undefined || c.owner < best.owner)) best = c
    }
    return best
  }

  /** Holds the probe until releaseProbe or the ttl, whichever comes first. */
  function hold(key: string, ttl: number, onEnd: () => void): void {
    const timer = setTimeout(end, ttl)
    function end(): void {
      clearTimeout(timer)
      if (held.get(key) === end) held.delete(key)
      onEnd()
    }
    held.set(key, end)
  }

  function lockProbe(locks: LockManager, key: string, ttl: number): Promise<boolean> {
    return new Promise<boolean>((resolve) => {
      let settled = false
      // ifAvailable answers at once; the guard only keeps a broken lock manager from hanging a call.
      const guard = setTimeout(() => {
        settled = true
        resolve(false)
      }, ttl)
      locks
        .request(lockName(key), { ifAvailable: true }, (lock) => {
          clearTimeout(guard)
          if (settled || lock === null || closed || held.has(key)) {
            if (!settled) resolve(false)
            settled = true
            return undefined
          }
          settled = true
          resolve(true)
          return new Promise<void>((release) => hold(key, ttl, release))
        })
        .catch(() => {
          // A lock manager that refuses (an opaque origin, say) leaves the claim path.
          clearTimeout(guard)
          if (settled) return
          settled = true
          resolve(claimProbe(key, ttl))
        })
    })
  }

  async function claimProbe(key: string, ttl: number): Promise<boolean> {
    // One probe per key from this tab too, whatever halfOpen.probes allows.
    if (held.has(key) || claiming.has(key)) return false
    claiming.add(key)
    try {
      return await claim(key, ttl)
    } finally {
      claiming.delete(key)
    }
  }

  async function claim(key: string, ttl: number): Promise<boolean> {
    let t = Date.now()
    if (liveClaim(key, t) !== undefined) return false
    const mine: Claim = { owner: id, until: t + ttl }
    write(claimKey(key), JSON.stringify(mine))
    send({ t: 'claim', from: id, key, until: mine.until })
    if (channel !== undefined || storage !== undefined) {
      // Give a rival's claim time to arrive; the lowest id among live claims wins in every tab.
      await new Promise((r) => setTimeout(r, Math.min(CLAIM_SETTLE_MS, ttl)))
      t = Date.now()
      const rival = liveClaim(key, t)
      if (closed || (rival !== undefined && rival.owner < id)) {
        const stored = read(claimKey(key))
        if (isClaim(stored) && stored.owner === id) {
          if (rival !== undefined && !closed) write(claimKey(key), JSON.stringify(rival))
          else remove(claimKey(key))
        }
        return false
      }
      // We win: make storage say so even if a losing rival wrote last.
      write(claimKey(key), JSON.stringify(mine))
    }
    hold(key, Math.max(0, mine.until - t), () => {
      const stored = read(claimKey(key))
      if (isClaim(stored) && stored.owner === id) remove(claimKey(key))
      send({ t: 'release', from: id, key })
    })
    return true
  }

  return {
    connect(apply) {
      appliers.push(apply)
      if (appliers.length > 1 || closed) return
      sweep()
      events()?.addEventListener('pagehide', onPageHide)
      if (typeof BroadcastChannel === 'function') {
        try {
          channel = new BroadcastChannel(name)
          channel.onmessage = (event: MessageEvent) => receive(event.data)
          // Node, Deno and Bun: a share must not keep the process alive.
          ;(channel as { unref?: () => void }).unref?.()
          return
        } catch {
          channel = undefined
        }
      }
      const target = events()
      if (storage !== undefined && target !== undefined) {
        onStorage = (event) => {
          if (event.key !== messageKey || event.newValue === null) return
          try {
            receive(JSON.parse(event.newValue))
          } catch {
            // Corrupt message: ignored.
          }
        }
        target.addEventListener('storage', onStorage)
      }
    },

    initial(key) {
      const stored = storedState(key)
      const last = heard.get(key)
      if (last === undefined) return stored
      return stored === undefined || last.at >= stored.at ? last : stored
    },

    publish(key, state) {
      // Half-open is reached by each tab by itself when openUntil passes: nothing to tell.
      if (state.state === 'half-open' || closed) return
      remember(key, state)
      for (const apply of appliers.length > 1 ? appliers : []) {
        // Several instances on one share in one tab: a breaker adopting its own view is a no-op.
        try {
          apply(key, state)
        } catch {
          // See receive().
        }
      }
      send({ t: 'state', from: id, key, state })
      const open = state.state === 'open' || state.state === 'forced-open'
      if (open && state.openUntil !== undefined) write(stateKey(key), JSON.stringify(state))
      else remove(stateKey(key))
    },

    acquireProbe(key, ttl) {
      if (closed) return Promise.resolve(true)
      const locks = webLocks()
      return locks === undefined ? claimProbe(key, ttl) : lockProbe(locks, key, ttl)
    },

    releaseProbe(key) {
      held.get(key)?.()
    },

    close() {
      if (closed) return
      closed = true
      onPageHide()
      channel?.close()
      channel = undefined
      const target = events()
      target?.removeEventListener('pagehide', onPageHide)
      if (onStorage !== undefined) {
        target?.removeEventListener('storage', onStorage)
        onStorage = undefined
      }
      appliers.length = 0
    },
  }
}

function checkOptions(options: ShareAcrossTabsOptions | undefined): string {
  if (options === undefined) return 'resilient-fetch'
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new TypeError(`shareAcrossTabs options must be an object, got ${String(options)}`)
  }
  for (const k of Object.keys(options)) {
    if (k !== 'name') throw new TypeError(`shareAcrossTabs options.${k} is not an option (known: name)`)
  }
  const name = options.name
  if (name === undefined) return 'resilient-fetch'
  if (typeof name !== 'string' || name === '') {
    throw new TypeError(`shareAcrossTabs name must be a non-empty string, got ${typeof name === 'string' ? '""' : String(name)}`)
  }
  return name
}

/** Reading localStorage itself throws where storage is disabled (sandboxed frames, blocked cookies). */
function localStorageOrUndefined(): Storage | undefined {
  try {
    const s = (globalThis as { localStorage?: Storage }).localStorage
    return s !== undefined && s !== null && typeof s.getItem === 'function' ? s : undefined
  } catch {
    return undefined
  }
}

/** The window's events (storage, pagehide), where the global scope is an event target. */
function events(): Pick<Window, 'addEventListener' | 'removeEventListener'> | undefined {
  const g = globalThis as Partial<Pick<Window, 'addEventListener' | 'removeEventListener'>>
  return typeof g.addEventListener === 'function' && typeof g.removeEventListener === 'function' ? (g as Pick<Window, 'addEventListener' | 'removeEventListener'>) : undefined
}

function webLocks(): LockManager | undefined {
  try {
    const locks = (globalThis as { navigator?: { locks?: LockManager | null } }).navigator?.locks
    return locks !== undefined && locks !== null && typeof locks.request === 'function' ? locks : undefined
  } catch {
    return undefined
  }
}

const finite = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v)

function isView(v: unknown): v is SharedBreakerState {
  if (typeof v !== 'object' || v === null) return false
  const s = v as Record<string, unknown>
  return (
    STATES.includes(s.state as BreakerState) &&
    finite(s.at) &&
    (s.openedAt === undefined || finite(s.openedAt)) &&
    (s.openUntil === undefined || finite(s.openUntil))
  )
}

function isClaim(v: unknown): v is Claim {
  return typeof v === 'object' && v !== null && typeof (v as Claim).owner === 'string' && finite((v as Claim).until)
}

function asMessage(v: unknown): Message | undefined {
  if (typeof v !== 'object' || v === null) return undefined
  const m = v as Record<string, unknown>
  if (typeof m.from !== 'string' || typeof m.key !== 'string') return undefined
  if (m.t === 'state' && isView(m.state)) return { t: 'state', from: m.from, key: m.key, state: m.state }
  if (m.t === 'claim' && finite(m.until)) return { t: 'claim', from: m.from, key: m.key, until: m.until }
  if (m.t === 'release') return { t: 'release', from: m.from, key: m.key }
  return undefined
}
