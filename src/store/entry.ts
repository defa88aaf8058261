/** Response <-> StoredResponse: the one place that turns a live response into stored bytes and back. */
import type { StoredResponse } from '../types.js'
import { NULL_BODY_STATUSES, VARY_HEADER } from './backend.js'

/** Internal header: a SHA-256 of the credential headers (store/digest.ts) a private copy was fetched with; never served. */
export const CREDENTIAL_HEADER = 'x-resilient-credential'

/** Headers never kept in a stored copy: cookies belong to one user, and the rest describe the transfer, not the body we keep (fetch has already decoded it). */
const DROPPED_HEADERS = new Set(['set-cookie', 'set-cookie2', 'content-encoding', 'content-length', 'transfer-encoding', 'connection', 'keep-alive'])

/** Headers we add ourselves; stripped from stored headers so they never leak or double up. */
const INTERNAL_HEADERS = new Set([VARY_HEADER, CREDENTIAL_HEADER, 'x-resilient-source', 'age'])

/**
 * Reads a body into one ArrayBuffer, giving up (and cancelling the stream) as soon as it passes `limit` bytes or `ms`
 * pass before its end. undefined when it was too large or too slow.
 */
export async function readBody(body: ReadableStream<Uint8Array> | null, limit: number, ms: number): Promise<ArrayBuffer | undefined> {
  if (body === null) return new ArrayBuffer(0)
  const reader = body.getReader()
  // Not awaited: a tee branch's cancel settles only once the caller's branch is cancelled too.
  const drop = () => void reader.cancel().catch(() => {})
  let late = false
  // A copy is a tee branch: while it reads, the caller's cancel() cannot close the connection nor settle.
  const timer = setTimeout(() => {
    late = true
    drop()
  }, ms)
  const chunks: Uint8Array[] = []
  let size = 0
  try {
    for (;;) {
      const { done, value } = await reader.read()
      if (late) return undefined
      if (done) return new Blob(chunks as BlobPart[]).arrayBuffer()
      size += value.byteLength
      if (size > limit) return drop()
      chunks.push(value)
    }
  } finally {
    clearTimeout(timer)
  }
}

/**
 * A stored copy of `response`, or undefined when its body is over `maxBodyBytes` or has not ended after `ms`. Reads (consumes) the body.
 * Its headers are the response's that a copy keeps, lower-cased, with `extraHeaders` appended (e.g. the Vary record).
 */
export async function toStored(
  url: string,
  response: Response,
  storedAt: number,
  maxBodyBytes: number,
  extraHeaders: [string, string][],
  ms: number,
): Promise<StoredResponse | undefined> {
  const body = await readBody(response.body, maxBodyBytes, ms)
  if (body === undefined) return undefined
  const headers: [string, string][] = []
  for (const [name, value] of response.headers) {
    if (!DROPPED_HEADERS.has(name) && !INTERNAL_HEADERS.has(name)) headers.push([name, value])
  }
  headers.push(...extraHeaders)
  return { url, status: response.status, statusText: response.statusText, headers, body, storedAt }
}

/** A fresh Response from a stored copy, without internal headers, with `extra` headers (ours: X-Resilient-Source, Age) set. */
export function fromStored(entry: StoredResponse, extra: Record<string, string> = {}): Response {
  // `extra` holds headers we add ourselves, which no stored header doubles (INTERNAL_HEADERS are left out).
  const headers = new Headers(extra)
  for (const [name, value] of entry.headers) {
    if (!INTERNAL_HEADERS.has(name.toLowerCase())) headers.append(name, value)
  }
  // The Response constructor copies the bytes, so a store's own buffer is never detached or shared.
  const response = new Response(NULL_BODY_STATUSES.has(entry.status) ? null : entry.body, { status: entry.status, statusText: entry.statusText, headers })
  // Its URL, as fetch's response has (code resolves links against it): a constructed Response's is ''.
  return Object.defineProperty(response, 'url', { value: entry.url })
}

/** The value of one header in a stored copy, or null. */
export function storedHeader(entry: StoredResponse, name: string): string | null {
  for (const [key, value] of entry.headers) if (key.toLowerCase() === name) return value
  return null
}

/** Whether an error is a storage quota error, by name (browsers and fakes differ in class, not name). */
export function isQuotaError(error: unknown): boolean {
  const name = (error as { name?: unknown } | null)?.name
  return name === 'QuotaExceededError' || name === 'NS_ERROR_DOM_QUOTA_REACHED'
}

/** Stores that can free space when storage is full; fallback.ts calls this before its one retry. */
export interface Evictable {
  /** Drops the least recently used half of the entries. */
  evict(): Promise<void>
}
