/**
 * `resilient-fetch/share`: breakers shared by the tabs of one origin, and kept across reloads.
 * Web standards only (BroadcastChannel, localStorage, Web Locks); each one that is missing degrades
 * the share, never a call.
 */
import type { BreakerShare, SharedBreakerState } from '../types.js'
import { createBus, windowEvents, type Bus, type Message } from './bus.js'
import { ProbeLease } from './lease.js'
import { persistedStates, safeStorage, type PersistedStates } from './persist.js'
import { now } from '../clock.js'
import { shareAcrossTabsSchema } from './options.js'
import { applyAll, sharing, supersedes, type Apply } from '../breaker/shared.js'
import { useSharing } from '../stages/breaker.js'

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

/** States remembered from the bus, for keys this tab creates later (bounded like maxKeys). */
const MAX_HEARD = 1_000

/**
 * Shares every breaker of an instance with the other tabs of the origin, and across reloads:
 * `createResilientFetch({ share: shareAcrossTabs() })`.
 *
 * - An open (or timed forced-open) decision in one tab reaches the others over a BroadcastChannel
 *   (under a millisecond in Chromium, see bench/share-tabs.mjs), so they fail fast instead of each
 *   paying `failureThreshold` failures of its own.
 * - It is kept in localStorage until its open window ends, so a reload within it starts open.
 *   A forced open with no end is not kept (it would outlive every page of the app), but a tab that
 *   starts or reloads asks the live tabs and adopts it: it holds in every tab until close() in any.
 * - What other tabs send or left in storage is bounded: a state is refused when it is an open with no
 *   end or its `at` is in the future, an adopted open lasts at most max(openDuration.max, 1 h),
 *   and a probe's claim at most an hour.
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
 * A page kept for Back (the back/forward cache) leaves the channel while it is away, since a message to it there would
 * evict it; restored, it asks the live tabs and reads storage for what changed meanwhile.
 *
 * Degrades to local-only, never throwing into a call: without BroadcastChannel it uses `storage`
 * events; without localStorage (private mode, quota, disabled) reloads start closed; without Web
 * Locks the probe is claimed in storage and on the channel, which leaves a race: two tabs claiming
 * at once both probe when one hears nothing of the other's claim within 100 ms.
 */
export function shareAcrossTabs(options?: ShareAcrossTabsOptions): TabShare {
  const { name } = shareAcrossTabsSchema(options, 'shareAcrossTabs options')
  // The breaker stage's side of a share comes with this entry: no instance on this share loads it apart.
  useSharing(sharing)
  const id = `${now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`
  const storage = safeStorage()
  const states = persistedStates(storage, name)
  const appliers: WeakRef<Apply>[] = [] // weakly: an instance dropped goes (see applyAll)
  const heard = new Map<string, SharedBreakerState>()
  let closed = false
  let connected = false // the first instance connected: listening started
  let listening = false
  const bus: Bus = createBus(name, id, storage, receive, () => rejoin(bus, id, states, lease, receive))
  const lease = new ProbeLease({
    name,
    id,
    storage,
    connected: () => listening || storage !== undefined,
    send: (message) => bus.send(message),
    closed: () => closed,
  })
  // A page going away frees its claimed probe at once, as the browser does for a Web Lock.
  const onPageHide = () => lease.releaseAll()

  function receive(m: Message): void {
    if (closed) return
    if (m.t === 'hello') return answer()
    if (m.t !== 'state') return lease.hear(m)
    remember(m.key, m.state)
    applyAll(appliers, m.key, m.state)
  }

  /**
   * Tells a tab that starts (or comes back from the back/forward cache) every state this one heard last, by key: what it
   * would not find in storage or by itself (a forced open with no end, an outage switch that holds in every tab, the new
   * ones too, until close() in any tab; a disable; opens still running), and what ended them (a close, a later open that
   * has ended): a tab that had not heard those yet may answer with what they replaced, and the starting tab, which was
   * not there when they were sent, must not keep that.
   */
  function answer(): void {
    for (const [key, state] of heard) bus.send({ t: 'state', from: id, key, state })
  }

  function remember(key: string, state: SharedBreakerState): void {
    const last = heard.get(key)
    if (last !== undefined && !supersedes(state, last)) return
    heard.delete(key)
    heard.set(key, state)
    if (heard.size > MAX_HEARD) heard.delete(heard.keys().next().value!)
  }

  return {
    connect(apply) {
      appliers.push(new WeakRef(apply))
      if (connected || closed) return
      connected = true
      states.sweep()
      lease.sweep()
      windowEvents()?.addEventListener('pagehide', onPageHide)
      listening = bus.open()
      if (listening) bus.send({ t: 'hello', from: id })
    },

    initial(key) {
      const stored = states.stored(key)
      const last = heard.get(key)
      if (last === undefined) return stored
      return stored === undefined || supersedes(last, stored) ? last : stored
    },

    publish(key, state) {
      // Half-open is reached by each tab by itself when openUntil passes: nothing to tell.
      if (state.state === 'half-open' || closed) return
      remember(key, state)
      // Several instances on one share in one tab: a breaker adopting its own view is a no-op.
      if (appliers.length > 1) applyAll(appliers, key, state)
      bus.send({ t: 'state', from: id, key, state })
      states.keep(key, state)
    },

    acquireProbe(key, ttl) {
      if (closed) return Promise.resolve(true)
      return lease.acquire(key, ttl)
    },

    releaseProbe(key) {
      lease.release(key)
    },

    close() {
      if (closed) return
      closed = true
      lease.releaseAll()
      bus.close()
      listening = false
      windowEvents()?.removeEventListener('pagehide', onPageHide)
      appliers.length = 0
    },
  }
}

/**
 * Back from the back/forward cache, where the page left the bus: what changed meanwhile comes from the live tabs (they
 * answer a hello, as for a tab that starts) and from storage (the opens of tabs gone since, the claims still held), as if
 * heard on the bus.
 */
function rejoin(bus: Bus, id: string, states: PersistedStates, lease: ProbeLease, receive: (m: Message) => void): void {
  lease.rejoined()
  bus.send({ t: 'hello', from: id })
  for (const [key, state] of states.all()) receive({ t: 'state', from: id, key, state })
}
