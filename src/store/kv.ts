/**
 * Workers KV fallback store (the `resilient-fetch/kv` entry). Unlike the Cache API, KV works on
 * `*.workers.dev` and is read from every data centre. The body is the value; status, URL, headers
 * and the time stored go in the key's metadata (at most 1024 bytes, KV's limit), and when they do
 * not fit there, in front of the body in the value.
 */
import type { FallbackStore, StoredResponse } from '../types.js'
import type { Checked } from '../schema.js'
import { kvNamespace, kvStoreSchema, MAX_VALUE_BYTES } from './kv-options.js'
import { memoryStore } from './memory.js'

/** The part of a Workers KV namespace binding (`KVNamespace`) the store uses. */
export interface KvNamespaceLike {
  getWithMetadata(key: string, options: { type: 'arrayBuffer' }): Promise<{ value: ArrayBuffer | null; metadata: unknown }>
  put(key: string, value: ArrayBuffer | ArrayBufferView, options?: { expirationTtl?: number; metadata?: unknown }): Promise<void>
  delete(key: string): Promise<void>
  list(options?: { prefix?: string; cursor?: string }): Promise<{ keys: { name: string }[]; list_complete: boolean; cursor?: string }>
}

export interface KvStoreOptions {
  /** Put in front of every key, so the store shares a namespace with other data; `clear()` deletes only these keys. @default 'resilient-fetch:' */
  prefix?: string
  /**
   * Seconds after which KV deletes an entry by itself: what bounds the store, as KV has no eviction.
   * At least 60 (KV's minimum); keep it at least the fallback's `maxAge` / 1000. @default 86_400
   */
  expirationTtl?: number
  /** Larger bodies are not stored (KV allows 25 MiB per value). @default 5 * 1024 * 1024 */
  maxBodyBytes?: number
}

/** KV's limits on key bytes and metadata bytes (serialized JSON); its value and TTL limits are in kv-options.ts. */
const MAX_KEY_BYTES = 512
const MAX_METADATA_BYTES = 1024
const FORMAT = 1

/** What the metadata holds: everything (`u`, `t`, `h`), or, when that would not fit, the byte length `n` of a JSON head in front of the body. */
interface Metadata {
  v: typeof FORMAT
  s: number
  at: number
  u?: string
  t?: string
  h?: [string, string][]
  n?: number
}

/**
 * The KV names this isolate wrote lately, per namespace binding, most recent last, each with when its last write landed
 * (NaN while none has): list() shows a key only up to a minute after its write (it is eventually consistent), so clear()
 * deletes these too; and KV takes one write per key per second, so a store made per request skips a write another
 * store on the binding landed less than a second ago. At most RECENT_WRITES per binding.
 */
const written = new WeakMap<KvNamespaceLike, Map<string, number>>()
const RECENT_WRITES = 1_000
const WRITE_INTERVAL = 1_000

const encoder = new TextEncoder()
const decoder = new TextDecoder()
const bytes = (text: string): number => encoder.encode(text).byteLength

/**
 * A store on a Workers KV namespace: `kvStore(env.LAST_KNOWN_GOOD)`. KV allows one write per key
 * per second, which the fallback's once-a-second refresh respects within an isolate; a write
 * refused for that reason (429: another isolate just wrote the key) counts as done. Reads are
 * eventually consistent (a copy written elsewhere shows up within about a minute), which suits a
 * last-known-good copy. A corrupt entry is deleted when read (the read rejects, naming the key).
 */
export function kvStore(namespace: KvNamespaceLike | undefined, options: KvStoreOptions = {}): FallbackStore {
  if (namespace == null) {
    kvStoreSchema(options, 'kvStore options')
    return withoutNamespace(namespace)
  }
  const settings = checkOptions(namespace, options)
  const { prefix } = settings
  let recent = written.get(namespace)
  if (recent === undefined) written.set(namespace, (recent = new Map()))

  return {
    async get(key) {
      const name = await kvKey(prefix, key)
      const { value, metadata } = await namespace.getWithMetadata(name, { type: 'arrayBuffer' })
      if (value === null) return undefined
      const entry = fromKv(value, metadata)
      if (entry === undefined) {
        await namespace.delete(name)
        throw new TypeError(`kvStore: corrupt entry for ${key} deleted`)
      }
      return entry
    },
    async put(key, entry) {
      if (entry.body.byteLength > settings.maxBodyBytes) return
      const { value, metadata } = toKv(entry)
      if (value.byteLength > MAX_VALUE_BYTES) throw new RangeError(`kvStore: the entry for ${key} is ${value.byteLength} bytes, over KV's ${MAX_VALUE_BYTES}`)
      const name = await kvKey(prefix, key)
      const since = Date.now() - recent.get(name)!
      if (since >= 0 && since < WRITE_INTERVAL) return
      // Noted before the write lands: a clear() while it is in flight deletes it too.
      noteWrite(recent, name, NaN)
      try {
        await namespace.put(name, value, { expirationTtl: settings.expirationTtl, metadata })
      } catch (error) {
        if (!isRateLimited(error)) throw error
      }
      // A write refused with a 429 counts too: another to the key within the second would be refused again.
      noteWrite(recent, name, Date.now())
    },
    async delete(key) {
      const name = await kvKey(prefix, key)
      recent.delete(name)
      await namespace.delete(name)
    },
    async clear() {
      // Those written lately, which list() may not show yet (a copy of the user who just logged out); taken once.
      const unlisted = new Set([...recent.keys()].filter((name) => name.startsWith(prefix)))
      for (const name of unlisted) recent.delete(name)
      let cursor: string | undefined
      do {
        const page = await namespace.list(cursor === undefined ? { prefix } : { prefix, cursor })
        for (const { name } of page.keys) unlisted.delete(name)
        await Promise.all(page.keys.map((k) => namespace.delete(k.name)))
        cursor = page.list_complete ? undefined : page.cursor
      } while (cursor !== undefined)
      await Promise.all([...unlisted].map((name) => namespace.delete(name)))
    },
  }
}

/**
 * A binding that is not there (`env.LAST_KNOWN_GOOD` undefined: missing from wrangler.toml, or not bound in this
 * environment) is storage that is missing, as IndexedDB can be: the store keeps its copies in memory, and its first
 * operation rejects saying why (the fallback reports it once as a storeerror). A binding of the wrong kind still throws.
 */
function withoutNamespace(namespace: null | undefined): FallbackStore {
  // As the 'memory' store keeps them.
  const memory = memoryStore()
  let told = false
  const tell = () => {
    if (told) return
    told = true
    throw new TypeError(`kvStore: the KV namespace binding is ${namespace} (is it under [[kv_namespaces]] in wrangler.toml?), keeping fallback copies in memory`)
  }
  // Done first, then told: the first copy is kept too.
  const then = async <T>(done: Promise<T>): Promise<T> => {
    const value = await done
    tell()
    return value
  }
  return {
    get: (key) => then(memory.get(key)),
    put: (key, entry) => then(memory.put(key, entry)),
    delete: (key) => then(memory.delete(key)),
    clear: () => then(memory.clear()),
  }
}

/** Notes `name` as the most recent write of `recent` (landed `at`, or NaN), forgetting the oldest past RECENT_WRITES. */
function noteWrite(recent: Map<string, number>, name: string, at: number): void {
  recent.delete(name)
  recent.set(name, at)
  if (recent.size > RECENT_WRITES) recent.delete(recent.keys().next().value!)
}

function checkOptions(namespace: KvNamespaceLike, options: KvStoreOptions | undefined): Checked<typeof kvStoreSchema> {
  kvNamespace(namespace, 'kvStore(namespace): namespace')
  return kvStoreSchema(options, 'kvStore options')
}

/** The KV key: the prefix and the store key, or its SHA-256 when that is over KV's 512 bytes (long URLs). */
async function kvKey(prefix: string, key: string): Promise<string> {
  const name = prefix + key
  if (bytes(name) <= MAX_KEY_BYTES) return name
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', encoder.encode(key)))
  let hex = ''
  for (const b of digest) hex += b.toString(16).padStart(2, '0')
  return `${prefix}#${hex}`
}

function toKv(entry: StoredResponse): { value: Uint8Array; metadata: Metadata } {
  const inline: Metadata = { v: FORMAT, s: entry.status, at: entry.storedAt, u: entry.url, t: entry.statusText, h: entry.headers }
  if (bytes(JSON.stringify(inline)) <= MAX_METADATA_BYTES) return { value: new Uint8Array(entry.body), metadata: inline }
  const head = encoder.encode(JSON.stringify({ u: entry.url, t: entry.statusText, h: entry.headers }))
  const value = new Uint8Array(head.byteLength + entry.body.byteLength)
  value.set(head, 0)
  value.set(new Uint8Array(entry.body), head.byteLength)
  return { value, metadata: { v: FORMAT, s: entry.status, at: entry.storedAt, n: head.byteLength } }
}

/** The entry, or undefined when the metadata or the head is not ours or is damaged. */
function fromKv(value: ArrayBuffer, metadata: unknown): StoredResponse | undefined {
  if (typeof metadata !== 'object' || metadata === null) return undefined
  const m = metadata as Partial<Metadata>
  if (m.v !== FORMAT || !Number.isInteger(m.s) || typeof m.at !== 'number' || !Number.isFinite(m.at)) return undefined
  let rest: Partial<Metadata> = m
  let body = value
  if (m.n !== undefined) {
    if (!Number.isSafeInteger(m.n) || m.n < 0 || m.n > value.byteLength) return undefined
    try {
      rest = JSON.parse(decoder.decode(new Uint8Array(value, 0, m.n))) as Partial<Metadata>
    } catch {
      return undefined
    }
    body = value.slice(m.n)
  }
  if (typeof rest !== 'object' || rest === null || typeof rest.u !== 'string' || typeof rest.t !== 'string' || !isHeaderList(rest.h)) return undefined
  return { url: rest.u, status: m.s as number, statusText: rest.t, headers: rest.h, body, storedAt: m.at }
}

function isHeaderList(v: unknown): v is [string, string][] {
  return Array.isArray(v) && v.every((pair) => Array.isArray(pair) && pair.length === 2 && typeof pair[0] === 'string' && typeof pair[1] === 'string')
}

/** KV refuses a second write to a key within a second with a 429: someone just stored a copy as fresh as ours. */
function isRateLimited(error: unknown): boolean {
  const message = error instanceof Error ? error.message : String(error)
  return /\b429\b|too many requests/i.test(message)
}
