/**
 * The fallback policy: which responses may be kept as a last known good copy, and when a kept copy may be
 * served instead of a failure. Storage itself lives in src/store/.
 */
import type { FallbackStore, StoredResponse } from './types.js'
import { resolveStore } from './store/auto.js'
import { CREDENTIAL_HEADER, fromStored, isEvictable, isQuotaError, isStoredResponse, storedHeader, toStored, VARY_HEADER } from './store/entry.js'
import { originOf } from './url.js'

export interface NormalizedFallbackOptions {
  store: 'auto' | 'memory' | FallbackStore
  maxAge: number
  maxBodyBytes: number
  private: boolean
}

export interface FallbackRequest {
  method: string
  url: string
  headers: Headers
}

export interface Fallback {
  /** Synchronous and cheap: decides from the request and response headers whether the response may be stored;
   *  if so clones it and stores it in the background (through waitUntil when given). Never throws, never awaits,
   *  never delays the caller or the body the caller reads. */
  remember(request: FallbackRequest, response: Response, waitUntil?: (p: Promise<unknown>) => void, receivedAt?: number): void
  /** A stored copy for this request no older than maxAge (narrowed by the stored response's
   *  Cache-Control stale-if-error=N), whose recorded Vary header values match this request's; as a new Response with
   *  the same status, statusText, headers and body plus `X-Resilient-Source: fallback` and `Age` (whole seconds).
   *  undefined when there is none, or when the store failed (emit storeerror then). Never rejects. */
  recall(request: FallbackRequest): Promise<{ response: Response; storedAt: number } | undefined>
  /** Empties the store; no copy of a response remembered before it lands after it resolves. */
  clear(): Promise<void>
}

/** A URL's copy is refreshed at most this often: its copy is at most this much older than the newest good response. */
const REFRESH_INTERVAL = 1_000
const REMEMBERED_KEYS = 1_000

type EmitStoreError = (type: 'storeerror', detail: { key: string; error: unknown }) => void

export function createFallback(options: NormalizedFallbackOptions, emit: EmitStoreError, now: () => number = Date.now): Fallback {
  const store = resolveStore(options.store)
  // Puts in flight, and a counter clear() bumps so copies still being read when it runs are dropped.
  const putting = new Set<Promise<void>>()
  let generation = 0
  // When each key's copy was last taken (bounded, oldest first): a hot URL is copied once a second, not on every call.
  const takenAt = new Map<string, number>()

  function due(key: string, t: number): boolean {
    const last = takenAt.get(key)
    if (last !== undefined && t >= last && t - last < REFRESH_INTERVAL) return false
    takenAt.delete(key)
    takenAt.set(key, t)
    if (takenAt.size > REMEMBERED_KEYS) takenAt.delete(takenAt.keys().next().value as string)
    return true
  }

  /** A copy taken at `t` that will not land frees the key for the next response. */
  function untake(key: string, t: number): void {
    if (takenAt.get(key) === t) takenAt.delete(key)
  }

  function fail(url: string, error: unknown): void {
    // A copy that failed to land is taken again by the next success, not a second later.
    takenAt.clear()
    try {
      emit('storeerror', { key: originOf(url) ?? url, error })
    } catch {
      // A throwing listener must not turn a skipped store into a failed call.
    }
  }

  async function save(request: FallbackRequest, key: string, url: string, copy: Response, storedAt: number, extra: [string, string][], started: number): Promise<void> {
    try {
      const credential = await credentialOf(request.headers)
      // Without a digest we cannot bind a credentialed copy to its user, so we keep none.
      if (credential === null) {
        untake(key, storedAt)
        return void copy.body?.cancel().catch(() => {})
      }
      if (credential !== undefined) extra.push([CREDENTIAL_HEADER, credential])
      const entry = await toStored(url, copy, storedAt, options.maxBodyBytes, extra)
      if (entry === undefined || started !== generation) return untake(key, storedAt)
      const put = putOnce(key, entry)
      putting.add(put)
      await put.finally(() => putting.delete(put))
    } catch (error) {
      fail(url, error)
    }
  }

  async function putOnce(key: string, entry: StoredResponse): Promise<void> {
    try {
      await store.put(key, entry)
    } catch (error) {
      if (!isQuotaError(error)) throw error
      // Our stores drop their least recently used half; a store that cannot is emptied, as Workbox does on quota errors.
      await (isEvictable(store) ? store.evict() : store.clear())
      await store.put(key, entry)
    }
  }

  return {
    remember(request, response, waitUntil, receivedAt) {
      try {
        if (!mayStore(request, response, options)) return
        const url = withoutFragment(request.url)
        const key = storeKey(request.method, url)
        const t = receivedAt ?? now()
        if (!due(key, t)) return
        const vary = varyRecord(response.headers, request.headers)
        const work = save(request, key, url, response.clone(), t, vary, generation)
        waitUntil?.(work)
      } catch (error) {
        fail(request.url, error)
      }
    },

    async recall(request) {
      try {
        if (request.method.toUpperCase() !== 'GET') return undefined
        const key = storeKey('GET', withoutFragment(request.url))
        const entry: unknown = await store.get(key)
        if (entry === undefined) return undefined
        if (!isStoredResponse(entry)) {
          fail(request.url, new TypeError(`corrupt fallback entry for ${key} deleted`))
          await store.delete(key).catch(() => {})
          return undefined
        }
        const age = Math.max(0, now() - entry.storedAt)
        if (age > maxAgeOf(entry, options.maxAge) || !varyMatches(entry, request.headers)) return undefined
        const credential = storedHeader(entry, CREDENTIAL_HEADER)
        if (credential !== null && credential !== (await credentialOf(request.headers))) return undefined
        const response = fromStored(entry, { 'X-Resilient-Source': 'fallback', Age: String(Math.floor(age / 1000)) })
        return { response, storedAt: entry.storedAt }
      } catch (error) {
        fail(request.url, error)
        return undefined
      }
    },

    async clear() {
      generation++
      takenAt.clear()
      // Waits for puts only: a body still streaming (a slow or endless response) must not hold up a logout.
      await Promise.allSettled(putting)
      await store.clear()
    },
  }
}

/** The storage rules, from headers alone: only 200 GETs, never no-store (request or response) or Vary: *, credentials only when private. */
function mayStore(request: FallbackRequest, response: Response, options: NormalizedFallbackOptions): boolean {
  if (response.status !== 200 || request.method.toUpperCase() !== 'GET') return false
  const cacheControl = directives(response.headers.get('cache-control'))
  // no-store on either side forbids keeping the response (RFC 9111, 5.2.1.5 and 5.2.2.5).
  if (cacheControl.has('no-store') || directives(request.headers.get('cache-control')).has('no-store')) return false
  const vary = response.headers.get('vary')
  if (vary !== null && vary.split(',').some((name) => name.trim() === '*')) return false
  // An event stream has no last good state to keep, and would hold a clone open for as long as it runs.
  if (response.headers.get('content-type')?.toLowerCase().startsWith('text/event-stream')) return false
  const length = Number(response.headers.get('content-length') ?? 0)
  if (length > options.maxBodyBytes) return false
  const personal =
    cacheControl.has('private') ||
    response.headers.has('set-cookie') ||
    request.headers.has('authorization') ||
    request.headers.has('cookie')
  return !personal || options.private
}

/** Cache-Control directives, lower-cased name → value ('' for valueless ones). */
function directives(header: string | null): Map<string, string> {
  const found = new Map<string, string>()
  if (header === null) return found
  for (const part of header.split(',')) {
    const [name, value = ''] = part.split('=', 2)
    const directive = name.trim().toLowerCase()
    if (directive !== '') found.set(directive, value.trim().replace(/^"|"$/g, ''))
  }
  return found
}

/** maxAge, narrowed by the stored response's own `stale-if-error=N` (RFC 5861). */
function maxAgeOf(entry: StoredResponse, maxAge: number): number {
  const staleIfError = directives(storedHeader(entry, 'cache-control')).get('stale-if-error')
  if (staleIfError === undefined || !/^\d+$/.test(staleIfError)) return maxAge
  return Math.min(maxAge, Number(staleIfError) * 1000)
}

/** The request's values of the headers the response's Vary names, as the internal header an entry carries. */
function varyRecord(responseHeaders: Headers, requestHeaders: Headers): [string, string][] {
  const vary = responseHeaders.get('vary')
  if (vary === null) return []
  const names = [...new Set(vary.split(',').map((name) => name.trim().toLowerCase()).filter((name) => name !== ''))]
  if (names.length === 0) return []
  const record = names.map((name) => [name, requestHeaders.get(name)])
  // URI-encoded JSON stays a valid header value whatever the request's header values hold.
  return [[VARY_HEADER, encodeURIComponent(JSON.stringify(record))]]
}

function varyMatches(entry: StoredResponse, requestHeaders: Headers): boolean {
  const recorded = storedHeader(entry, VARY_HEADER)
  if (recorded === null) return true
  const record = JSON.parse(decodeURIComponent(recorded)) as [string, string | null][]
  return record.every(([name, value]) => requestHeaders.get(name) === value)
}

/**
 * A hex SHA-256 of the request's Authorization and Cookie, so a private copy is served only to the same
 * credentials and no secret is kept at rest. undefined: no credentials; null: no digest here (insecure page).
 */
async function credentialOf(headers: Headers): Promise<string | undefined | null> {
  const authorization = headers.get('authorization')
  const cookie = headers.get('cookie')
  if (authorization === null && cookie === null) return undefined
  const subtle = globalThis.crypto?.subtle
  if (subtle === undefined) return null
  const digest = await subtle.digest('SHA-256', new TextEncoder().encode(`${authorization ?? ''}\n${cookie ?? ''}`))
  return Array.from(new Uint8Array(digest), (byte) => byte.toString(16).padStart(2, '0')).join('')
}

function storeKey(method: string, url: string): string {
  return `${method.toUpperCase()} ${url}`
}

function withoutFragment(url: string): string {
  const hash = url.indexOf('#')
  return hash === -1 ? url : url.slice(0, hash)
}
