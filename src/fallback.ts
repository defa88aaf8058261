/**
 * The fallback policy: which responses may be kept as a last known good copy, and when a kept copy may be
 * served instead of a failure. Storage itself lives in src/store/.
 */
import type { FallbackStore, StoredResponse } from './types.js'
import { present, resolveStore } from './store/auto.js'
import { finishWithin, isStoredResponse, VARY_HEADER, varyRecordOf } from './store/backend.js'
import { READ_GRACE, within } from './within.js'
import { credentialDigest, credentialsOf, isCredential } from './store/digest.js'
import { CREDENTIAL_HEADER, type Evictable, fromStored, isQuotaError, storedHeader, toStored } from './store/entry.js'
import { LOST_AFTER, originOf } from './core.js'
import type { Call, Outcome, Runtime } from './stages/types.js'

export interface NormalizedFallbackOptions {
  store: 'auto' | 'memory' | FallbackStore
  maxAge: number
  maxBodyBytes: number
  private: boolean
}

/** A GET call as the fallback sees it (the fallback stage passes only GETs). */
export interface FallbackRequest {
  /** Without its fragment: the store's key is `GET ${url}`. */
  url: string
  /** The call's key, which its storeerror events carry as every other event of the call does; else the URL's origin. */
  key?: string
  headers: Headers
  /** fetch's own cache mode (init's, else the Request's): 'no-store' forbids keeping the response. */
  cache?: RequestCache
  /** The caller's own signal: its abort cuts the body short, and the copy's read with it, which is no store failure. */
  signal?: AbortSignal
}

/** What bounds a recall besides its own READ_LIMIT: the call's total deadline and abort. */
export interface RecallBound {
  signal?: AbortSignal
  /** Absolute time (ms since the epoch) of the call's total deadline. */
  deadline?: number
}

export interface Fallback {
  /** For a 200 (the stage passes no other). Synchronous and cheap: decides from the request and response headers whether the response may be stored;
   *  if so clones it and stores it in the background (through waitUntil when given). Never throws, never awaits,
   *  never delays the caller or the body the caller reads. `receivedAt`: when the response came (default: now).
   *  Whether its call started before a clear() is the stage's to check: it calls this only for calls that did not. */
  remember(request: FallbackRequest, response: Response, waitUntil?: (p: Promise<unknown>) => void, receivedAt?: number): void
  /** A stored copy for this request no older than maxAge (narrowed by the stored response's
   *  Cache-Control stale-if-error=N), whose recorded Vary header values match this request's; as a new Response with
   *  the same status, statusText, headers and body plus `X-Resilient-Source: fallback` and `Age` (whole seconds).
   *  A copy still being written is found too. undefined when there is none, when the store failed or took longer
   *  than the bound (emit storeerror then), or when the bound's signal aborted. Never rejects, never hangs. */
  recall(request: FallbackRequest, bound?: RecallBound): Promise<{ response: Response; storedAt: number } | undefined>
  /** Empties the store without waiting for writes in flight: no copy remembered before it is served after it
   *  resolves (one landing later is deleted, and never served). Rejects when the store's own clear fails or does not settle. */
  clear(): Promise<void>
}

/** A URL's copy is refreshed at most this often: its copy is at most this much older than the newest good response. */
const REFRESH_INTERVAL = 1_000
const REMEMBERED_KEYS = 1_000
/** A read may take at most this long, less when the call's deadline is nearer: a hung store must not hang a call. */
const READ_LIMIT = 1_000
/** A write or a clear that has not settled after this long is reported (writes) or rejected (clear). */
const WRITE_LIMIT = 10_000
/** Content types that are streams by nature: text/event-stream, NDJSON, JSON Lines, JSON text sequences, multipart/x-mixed-replace. */
const STREAMING_TYPE = /^\s*(text\/event-stream|application\/(x-)?(ndjson|jsonl|jsonlines|json-seq|json-stream)|application\/stream\+json|multipart\/x-mixed-replace)\b/i
/** Clocks of isolates or tabs may differ this much; a copy dated further ahead was stored while the clock was wrong. */
const CLOCK_SKEW = 1_000
/** What a personal copy stored from a request with no credential we can see is bound to (a digest is 64 hex digits). */
const NO_CREDENTIAL = 'none'

type Found = { response: Response; storedAt: number }

/** A write in flight: its key, its copy's storedAt, the clear() generation it began in, and when it is taken for lost (LOST_AFTER past its WRITE_LIMIT). */
interface Write {
  key: string
  storedAt: number
  generation: number
  lostAt: number
}

/** The stage's side of the fallback, which loads with this chunk: the Fallback, and the copy a failed call is answered with. */
export interface StageFallback extends Fallback {
  /** The stored copy as the call's outcome (announced; counted where the call ends); undefined when there is none or the caller aborted. */
  answer(call: Call, request: FallbackRequest): Promise<Outcome | undefined>
  /** After a call of an unsafe method (not GET, HEAD, OPTIONS, TRACE), off the hot path: a 2xx or 3xx response changed its URL
   *  (RFC 9111 4.4), so the copy of `GET ${url}` is deleted, and those of its Location and Content-Location when they
   *  resolve to its origin; no copy of theirs from before (one being read or written) lands or is served after. Never
   *  throws; a store that fails is a storeerror. */
  changed(request: FallbackRequest, outcome: Outcome, waitUntil?: (p: Promise<unknown>) => void): void
}

/** The Fallback over `options.store`, its storeerror events and clock the runtime's. */
export function stageFallback(options: NormalizedFallbackOptions, runtime: Pick<Runtime, 'events' | 'now'>, cleared?: () => void): StageFallback {
  return new LastKnownGood(options, runtime, cleared)
}

/**
 * The instances of this page or worker on a store of the origin's ('auto', or what cacheStore and idbStore name: their
 * scope), held weakly. Such a store is shared by the origin's tabs and workers: a clear() in any (a logout in one tab)
 * drops the copies in flight in all on that store, here directly, elsewhere by a message.
 */
const peers = new Set<WeakRef<LastKnownGood>>()
let clears: BroadcastChannel | undefined

/**
 * Every live peer on `scope` but `except` forgets what it has in flight; those collected are dropped. Without a scope
 * none forgets (every peer has one): it only drops those.
 */
function forgetAll(scope?: unknown, except?: LastKnownGood): void {
  for (const ref of peers) {
    const peer = ref.deref()
    if (peer === undefined) peers.delete(ref)
    else if (peer !== except && peer.scope === scope) peer.forget()
  }
}

/** The Fallback over one store: the refresh throttle, writes in flight, and the clear() generation. */
class LastKnownGood implements StageFallback {
  #store: FallbackStore
  // Bumped by clear(): copies of calls started, or writes begun, before it never outlive it.
  #generation = 0
  // Copies being read or written, by key, so a recall right after a good response finds its copy (let go once one kept a read waiting).
  #writing = new Map<string, Promise<StoredResponse | undefined>>()
  // Writes in flight, per write (a later one landing first must not end the wait): one begun before a clear() blocks its key.
  #puts = new Set<Write>()
  // Copies lost writes or writes landing after a clear() may leave ("storedAt key" → their generation): never served after a clear().
  #doubtful = new Map<string, number>()
  // Those forgotten one by one, in bulk: no copy stored at or before #floorAt is served after a clear() since #floorSince.
  #floorAt = -Infinity
  #floorSince = Infinity
  // When a write last changed each key's URL (bounded, oldest first): no copy of it stored at or before that is served.
  #changedAt = new Map<string, number>()
  // When each key's copy was last taken (bounded, oldest first): a hot URL is copied once a second, not on every call.
  #takenAt = new Map<string, number>()
  #options: NormalizedFallbackOptions
  #runtime: Pick<Runtime, 'events' | 'now'>
  // The stage's part of a clear(): no response to a call started before it is remembered.
  #cleared?: () => void
  /** The origin's storage this instance is on, shared with its other instances, tabs and workers; undefined for one of its own. */
  readonly scope: unknown

  constructor(options: NormalizedFallbackOptions, runtime: Pick<Runtime, 'events' | 'now'>, cleared?: () => void) {
    this.#options = options
    this.#runtime = runtime
    this.#cleared = cleared
    this.#store = resolveStore(options.store)
    const g = globalThis as { caches?: unknown; indexedDB?: unknown; document?: unknown; importScripts?: unknown }
    this.scope = options.store === 'auto' ? 'auto' : (options.store as { scope?: unknown }).scope
    // Only where the store is the origin's (the Cache API or IndexedDB): the instances of this realm (two in one Worker
    // isolate too) share it. Read as 'auto' reads them: reading `caches` may throw (Firefox with storage blocked).
    if (this.scope !== undefined && (present(() => g.caches) || present(() => g.indexedDB)))
      try {
        // Drops the peers collected since (with no scope, none forgets).
        forgetAll()
        peers.add(new WeakRef(this))
        // Other tabs are told only from a page or a browser's worker (Deno has caches, and its channel keeps the process alive: it has no unref).
        // Where there is no BroadcastChannel (Safari before 15.4), its constructor throws, caught below.
        if ((g.document ?? g.importScripts) !== undefined) {
          clears ??= new BroadcastChannel('resilient-fetch:clear')
          clears.onmessage = (event) => forgetAll(event.data)
          // Node with a DOM shim: the channel must not keep the process alive.
          ;(clears as { unref?: () => void }).unref?.()
        }
      } catch {}
  }

  remember(request: FallbackRequest, response: Response, waitUntil?: (p: Promise<unknown>) => void, receivedAt?: number): void {
    try {
      // Its own Age (RFC 9111 5.1): the time it spent in caches before it came is part of its copy's (none: +null, 0).
      const age = Math.max(0, +response.headers.get('age')!) * 1000 || 0
      // The storage rules, from headers alone (the stage passes only 200s): never no-store (request or response) or Vary: *,
      // credentials only when private.
      // A redirected response is another resource's (an expired session sent to /login), never this URL's last good state;
      // a copy a fallback served (a Service Worker's, the proxy's) is no newer than its copy: kept again it would never expire.
      // So is a response already as old as maxAge when it came: it could never be served, and would replace a younger copy.
      if (response.redirected || response.headers.has('x-resilient-source') || age >= this.#options.maxAge) return
      // fetch's own no-store cache mode says the same as the header: keep nothing.
      if (request.cache === 'no-store') return
      const cacheControl = directives(response.headers.get('cache-control'))
      // no-store on either side forbids keeping the response (RFC 9111, 5.2.1.5 and 5.2.2.5).
      if (cacheControl.has('no-store') || directives(request.headers.get('cache-control')).has('no-store')) return
      if (directives(response.headers.get('vary')).has('*')) return
      // A stream by nature (events, JSON lines or sequences, a replaced multipart) has no last good state to keep, and a
      // copy would hold the connection open after the caller cancels. (No Content-Type tests as 'null', which is none.)
      if (STREAMING_TYPE.test(response.headers.get('content-type')!)) return
      // (No Content-Length: +null, 0.)
      if (+response.headers.get('content-length')! > this.#options.maxBodyBytes) return
      const personal =
        cacheControl.has('private') ||
        response.headers.has('set-cookie') ||
        response.headers.has('set-cookie2') ||
        credentialsOf(request.headers) !== undefined
      if (personal && !this.#options.private) return
      const key = `GET ${request.url}`
      const t = receivedAt ?? this.#runtime.now()
      // A hot URL is copied once a REFRESH_INTERVAL (a clock set back takes the copy at once; a missing time compares false).
      const last = this.#takenAt.get(key)!
      if (t >= last && t - last < REFRESH_INTERVAL) return
      note(this.#takenAt, key, t)
      const copy = this.#prepare(request, response.clone(), t - age, varyRecord(response.headers, request.headers), personal)
      this.#writing.set(key, copy)
      // Started whether or not there is a waitUntil to hand it to.
      const work = this.#save(key, request, copy, t)
      waitUntil?.(work)
    } catch (error) {
      this.#fail(request, error)
    }
  }

  changed(request: FallbackRequest, outcome: Outcome, waitUntil?: (p: Promise<unknown>) => void): void {
    try {
      if (outcome.kind !== 'response') return
      const { response } = outcome
      const { status, headers } = response
      if (status < 200 || status > 399) return
      const urls = [request.url]
      for (const value of [headers.get('location'), headers.get('content-location')])
        try {
          const url = new URL(value!, response.url || request.url)
          url.hash = ''
          // Only its own origin's (RFC 9111 4.4); a header it does not carry is skipped (null resolves to no origin of ours).
          if (value !== null && url.origin === originOf(request.url)) urls.push(url.href)
        } catch {}
      const t = this.#runtime.now()
      // Started whether or not there is a waitUntil to hand it to.
      const work = Promise.all(urls.map((url) => this.#drop(`GET ${url}`, t, request)))
      waitUntil?.(work)
    } catch (error) {
      this.#fail(request, error)
    }
  }

  /** Forgets `key`'s copies as of `t` at once (those in flight too), then deletes the stored one; never rejects. */
  async #drop(key: string, t: number, request: FallbackRequest): Promise<void> {
    note(this.#changedAt, key, t)
    // The next good response is copied at once, and a recall no longer waits for a copy from before.
    this.#takenAt.delete(key)
    this.#writing.delete(key)
    try {
      await settled(this.#store.delete(key), 'delete', key)
    } catch (error) {
      this.#fail(request, error)
    }
  }

  async answer(call: Call, request: FallbackRequest): Promise<Outcome | undefined> {
    // Bounded by the call's deadline and abort (the call is the bound): a hung store never hangs the call.
    const found = await this.recall(request, call)
    if (!found || call.signal?.aborted) return undefined
    // The age the copy is served with.
    this.#runtime.events.emit('fallback', { key: call.key, age: +found.response.headers.get('age')! })
    // Still the failure of the call it answers: the call counts as failed (or rejected), served from the copy.
    return { kind: 'response', ...found, failure: true, duration: 0 }
  }

  async recall(request: FallbackRequest, bound: RecallBound = {}): Promise<Found | undefined> {
    const key = `GET ${request.url}`
    // A write begun before a clear() may still land the copy from before it: none is served meanwhile.
    this.#sweep()
    for (const write of this.#puts) if (write.key === key && write.generation !== this.#generation) return undefined
    const { deadline, signal } = bound
    // What is left of the call's deadline, within READ_GRACE..READ_LIMIT.
    const limit = Math.min(READ_LIMIT, Math.max(READ_GRACE, (deadline ?? Infinity) - this.#runtime.now()))
    try {
      return await settled(this.#lookup(key, request, limit), 'get', key, limit, signal)
    } catch (error) {
      // The caller's abort is the caller's, not the store's.
      if (!signal?.aborted) this.#fail(request, error)
      return undefined
    }
  }

  async clear(): Promise<void> {
    this.forget()
    if (this.scope !== undefined) {
      forgetAll(this.scope, this)
      clears?.postMessage(this.scope)
    }
    await settled(this.#store.clear(), 'clear')
  }

  /** The store is being cleared, here or by another tab: no copy of a call started, or write begun, before now lands. */
  forget(): void {
    this.#cleared?.()
    this.#generation++
    this.#takenAt.clear()
    this.#writing.clear()
    // Never waits for a write in flight (a hung put must not hold up a logout): the generation marks each as begun before it.
  }

  /** Drops the writes taken for lost (a Worker's request that ended drops its put): each may land yet, so its copy is doubtful. */
  #sweep(): void {
    const now = this.#runtime.now()
    for (const write of this.#puts) {
      if (now < write.lostAt) continue
      this.#puts.delete(write)
      this.#doubt(write)
    }
  }

  /** Remembers `write`'s copy as one never to serve after a clear(); past REMEMBERED_KEYS, the oldest in a floor for every key. */
  #doubt({ key, storedAt, generation }: Write): void {
    const doubtful = this.#doubtful
    const id = `${storedAt} ${key}`
    // The earliest generation: a write of the same key and millisecond after a clear() must not clear the doubt.
    doubtful.set(id, Math.min(doubtful.get(id) ?? generation, generation))
    if (doubtful.size <= REMEMBERED_KEYS) return
    const [oldest, since] = doubtful.entries().next().value!
    doubtful.delete(oldest)
    this.#floorAt = Math.max(this.#floorAt, parseInt(oldest))
    this.#floorSince = Math.min(this.#floorSince, since)
  }

  /** Lets go of `copy` unless a newer copy of `key` took its place. */
  #letGo(key: string, copy: Promise<StoredResponse | undefined>): void {
    if (this.#writing.get(key) === copy) this.#writing.delete(key)
  }

  #fail({ key, url }: FallbackRequest, error: unknown): void {
    // A copy that failed to land is taken again by the next success, not a second later.
    this.#takenAt.clear()
    try {
      this.#runtime.events.emit('storeerror', { key: key ?? originOf(url) ?? url, error })
    } catch {
      // A throwing listener must not turn a skipped store into a failed call.
    }
  }

  /** The entry to store, or undefined when it is not kept (too large, or credentials we cannot bind). */
  async #prepare(request: FallbackRequest, copy: Response, storedAt: number, extra: [string, string][], personal: boolean): Promise<StoredResponse | undefined> {
    const credential = await credentialDigest(request.headers)
    // Without a digest we cannot bind a credentialed copy to its user, so we keep none.
    if (credential === null) return void copy.body?.cancel().catch(() => {})
    // A personal copy is bound to the credentials it was stored with, none included (the browser's cookies, which we cannot see).
    if (personal) extra.push([CREDENTIAL_HEADER, credential ?? NO_CREDENTIAL])
    // A copy still reading after WRITE_LIMIT (a body that never ends) is dropped: until then it holds the connection.
    return toStored(request.url, copy, storedAt, this.#options.maxBodyBytes, extra, WRITE_LIMIT).catch((error): undefined => {
      // The caller aborted while the body came: its copy is incomplete, not kept, and the abort is theirs, not the store's.
      if (!request.signal?.aborted) throw error
    })
  }

  /** Lands the copy once read, unless a clear() came first; until then a recall finds it among the copies being written. */
  async #save(key: string, request: FallbackRequest, copy: Promise<StoredResponse | undefined>, storedAt: number): Promise<void> {
    // Noted before the first await, as remember() calls this.
    const started = this.#generation
    try {
      const entry = await copy
      // No clear() since, and no write changed its URL at or after it was received (a missing time compares false).
      if (entry && started === this.#generation && !(entry.storedAt <= this.#changedAt.get(key)!)) {
        // A clear() came while it was written: its delete of the copy is waited for too, within a bound of its own.
        const { deleting } = await settled(this.#land(key, entry), 'put', key)
        if (deleting) await settled(deleting, 'delete', key)
        return
      }
      // A copy that will not land frees the key for the next response.
      if (this.#takenAt.get(key) === storedAt) this.#takenAt.delete(key)
    } catch (error) {
      this.#fail(request, error)
    } finally {
      this.#letGo(key, copy)
    }
  }

  /** Writes, remembering the write while in flight: one a clear() did not wait for is deleted when it lands (`deleting`). */
  async #land(key: string, entry: StoredResponse): Promise<{ deleting?: Promise<void> }> {
    const generation = this.#generation
    this.#sweep()
    const write: Write = { key, storedAt: entry.storedAt, generation, lostAt: this.#runtime.now() + WRITE_LIMIT + LOST_AFTER }
    this.#puts.add(write)
    try {
      await putOnce(this.#store, key, entry)
    } finally {
      this.#puts.delete(write)
    }
    // Still current: no clear() and no write to its URL came while it was in flight.
    if (generation === this.#generation && !(entry.storedAt <= this.#changedAt.get(key)!)) return {}
    // A clear() came while it was in flight: its copy is from before it, never served here, whether the delete lands or not.
    // (A write that changed its URL meanwhile: the URL's #changedAt keeps it from being served.)
    if (generation !== this.#generation) this.#doubt(write)
    const deleting = this.#store.delete(key)
    deleting.catch(() => {})
    return { deleting }
  }

  /**
   * The copy for `key` that may answer `request`: one still being written first, else the store's. The one being written
   * is waited for at most half the read's `limit`, and only until it has kept one read waiting that long (then it is let
   * go): its request may have ended without it (workerd drops what a request that answered left running, unless given to
   * waitUntil), and the stored copy must still answer every failure after.
   */
  async #lookup(key: string, request: FallbackRequest, limit: number): Promise<Found | undefined> {
    const started = this.#generation
    const writing = this.#writing.get(key)
    const entry: unknown = (writing && (await within(writing, limit / 2, '').catch(() => this.#letGo(key, writing)))) || (await this.#store.get(key))
    // A clear() while the copy was read (or still written): nothing remembered before it is served after it.
    if (entry === undefined || started !== this.#generation) return undefined
    let response: Response
    try {
      if (!isStoredResponse(entry)) throw undefined
      response = fromStored(entry, { 'x-resilient-source': 'fallback' })
    } catch (cause) {
      // Not a whole entry (storage can hold anything), or one no Response can be built from here.
      this.#fail(request, new TypeError(`corrupt fallback entry for ${key} deleted`, { cause }))
      return this.#discard(key)
    }
    const { storedAt } = entry as StoredResponse
    const t = this.#runtime.now()
    // The generation of a write from before a clear() that landed it (taken for lost, or whose delete did not land); else this one.
    const doubt = this.#doubtful.get(`${storedAt} ${key}`) ?? (storedAt <= this.#floorAt ? this.#floorSince : this.#generation)
    // Stored while the clock was ahead (its age is unknown, and it would be served as new once the clock catches up), or doubtful.
    if (storedAt > t + CLOCK_SKEW || doubt !== this.#generation) return this.#discard(key)
    // Stored before a write changed its URL (its delete not landed, or failed; a copy that was in flight): deleted again, unwaited.
    if (storedAt <= this.#changedAt.get(key)!) return void this.#discard(key)
    const age = Math.max(0, t - storedAt)
    // Past maxAge, or past the stored response's own `stale-if-error=N` (RFC 5861).
    const staleIfError = directives(storedHeader(entry as StoredResponse, 'cache-control')).get('stale-if-error') ?? ''
    if (age > this.#options.maxAge || (/^\d+$/.test(staleIfError) && age > Number(staleIfError) * 1000)) return undefined
    response.headers.set('age', String(Math.floor(age / 1000)))
    // The request's values of the headers its Vary names, as recorded (isStoredResponse has refused a damaged record).
    const recorded = storedHeader(entry as StoredResponse, VARY_HEADER)
    if (recorded !== null && !varyRecordOf(recorded)!.every(([name, value]) => request.headers.get(name) === value)) return undefined
    const credential = storedHeader(entry as StoredResponse, CREDENTIAL_HEADER)
    // A personal copy answers only the same credentials: one stored with none never answers a request that carries one
    // (null: it carries one we cannot digest).
    const asked = credential === null ? undefined : await credentialDigest(request.headers)
    if ((credential !== null && credential !== (asked === undefined ? NO_CREDENTIAL : asked)) || started !== this.#generation) return undefined
    return { response, storedAt }
  }

  /** Deletes an entry that must never be served. */
  async #discard(key: string): Promise<undefined> {
    await this.#store.delete(key).catch(() => {})
    return undefined
  }
}

/** Sets `key` to `t` as the newest of `map`, which keeps the REMEMBERED_KEYS newest. */
function note(map: Map<string, number>, key: string, t: number): void {
  map.delete(key)
  map.set(key, t)
  if (map.size > REMEMBERED_KEYS) map.delete(map.keys().next().value!)
}

/** `work` within `ms` (the write limit unless given), else `fallback store.get("GET https://...") did not finish within 1000 ms`. */
const settled = <T>(work: Promise<T>, method: string, key?: string, ms = WRITE_LIMIT, signal?: AbortSignal): Promise<T> =>
  finishWithin(work, `fallback store.${method}(${JSON.stringify(key) ?? ''})`, ms, signal)

async function putOnce(store: FallbackStore & Partial<Evictable>, key: string, entry: StoredResponse): Promise<void> {
  try {
    await store.put(key, entry)
  } catch (error) {
    if (!isQuotaError(error)) throw error
    // Our stores drop their least recently used half; a store that cannot is emptied, as Workbox does on quota errors.
    await (store.evict ?? store.clear).call(store)
    await store.put(key, entry)
  }
}

/** A comma-separated header's elements (Cache-Control's directives, Vary's names), lower-cased name → value ('' for valueless ones). */
function directives(header: string | null): Map<string, string> {
  const found = new Map<string, string>()
  for (const part of (header ?? '').split(',')) {
    const [name, value = ''] = part.split('=', 2)
    const directive = name.trim().toLowerCase()
    if (directive) found.set(directive, value.trim().replace(/^"|"$/g, ''))
  }
  return found
}

/**
 * The request's values of the headers the response's Vary names, as the internal header an entry carries. A credential
 * the request carried is left out, never kept: the credential digest (which takes every credential) binds the copy to it.
 */
function varyRecord(responseHeaders: Headers, requestHeaders: Headers): [string, string][] {
  const vary = responseHeaders.get('vary')
  if (vary === null) return []
  const record: [string, string | null][] = []
  for (const name of directives(vary).keys()) {
    // A copy keeps the body decoded (store/entry.ts): the content codings the request accepted do not matter.
    if (name !== 'accept-encoding' && !(isCredential(name) && requestHeaders.has(name))) record.push([name, requestHeaders.get(name)])
  }
  // URI-encoded JSON stays a valid header value whatever the request's header values hold.
  return [[VARY_HEADER, encodeURIComponent(JSON.stringify(record))]]
}
