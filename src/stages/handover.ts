/**
 * Coalescing where a request's I/O objects are its own (workerd): a joined caller cannot read a body another incoming
 * request's fetch opened, nor take a Response across. The coalesce stage loads this chunk there only.
 */
import { aborted, keepWith, now } from '../core.js'
import type { Member } from './coalesce.js'
import type { Call, Next, Outcome, ResponseOutcome } from './types.js'

/** Each joined caller gets a parcel: the head now, the bytes of `body` (read here, where it arrived) when they are all in. */
export function handOver(outcome: ResponseOutcome, copy: Parcel['copy'], body: ReadableStream<Uint8Array> | null, members: readonly Member[], cap: number, waitUntil: ((promise: Promise<unknown>) => void) | undefined): void {
  const parcel = pack(outcome, copy, body, cap)
  waitUntil?.(parcel.bytes)
  for (const member of members) if (member.joined) member.resolve({ ...parcel, own: member.own })
}

/**
 * What a joined caller gets: the shared response's head, and its body's bytes as the request that made it reads them
 * (undefined: too large, or that request ended first). The caller builds its own Response, in its own request.
 */
export interface Parcel {
  readonly outcome: Omit<ResponseOutcome, 'response'>
  /** A Response over `body` with the shared response's head, as fetch gave it (./coalesce.ts copies a response so too). */
  readonly copy: (body: ReadableStream<Uint8Array> | null) => Response
  readonly bytes: Promise<Uint8Array | null | undefined>
  /** When the last bytes arrived (ms epoch). */
  readonly progress: { at: number }
  /** The caller's own controller (follows its signal): its abort ends the wait and the body. */
  readonly own: AbortController | undefined
}

/** Reads the shared response where it arrived: `bytes` for the joined callers, up to `cap` bytes. */
function pack(outcome: ResponseOutcome, copy: Parcel['copy'], body: ReadableStream<Uint8Array> | null, cap: number): Omit<Parcel, 'own'> {
  const { response, ...rest } = outcome
  const progress = { at: now() }
  return { outcome: rest, copy, progress, bytes: body === null ? Promise.resolve(null) : readUpTo(body, Number(response.headers.get('content-length')) || 0, cap, progress) }
}

/** The body's bytes, or undefined when it fails or passes `cap` (by its Content-Length, or as read: then it is cancelled). */
async function readUpTo(body: ReadableStream<Uint8Array>, length: number, cap: number, progress: { at: number }): Promise<Uint8Array | undefined> {
  const reader = body.getReader()
  const chunks: Uint8Array[] = []
  let size = 0
  try {
    while (length <= cap) {
      const { done, value } = await reader.read()
      if (done) {
        const bytes = new Uint8Array(size)
        size = 0
        for (const chunk of chunks) bytes.set(chunk, (size += chunk.byteLength) - chunk.byteLength)
        return bytes
      }
      progress.at = now()
      if ((size += value.byteLength) > cap) break
      chunks.push(value)
    }
  } catch {
    return undefined
  }
  reader.cancel().catch(() => {})
  return undefined
}

/** How long a joined caller waits for more of the shared body before it sends its own request (the first one's request may have ended). */
export const IDLE_AFTER = 1_000

/**
 * A joined caller, in its own request: a Response of its own from the parcel's bytes, or (when they do not come: too
 * large, or no more for IDLE_AFTER) the caller's own request. Its abort ends the wait; a later one errors the body.
 */
export async function unpack(parcel: Parcel, call: Call, next: Next): Promise<Outcome> {
  const signal = parcel.own?.signal
  const bytes = await arrival(parcel, signal)
  if (signal?.aborted) return aborted(signal.reason)
  if (bytes === undefined) return next(call)
  let body: ReadableStream<Uint8Array> | null = null
  if (bytes !== null) {
    // A byte stream, as workerd's fetch bodies are: a BYOB reader works on it.
    body = new ReadableStream({
      type: 'bytes',
      start(controller) {
        signal?.addEventListener('abort', () => controller.error(signal.reason), { once: true })
      },
      pull(controller) {
        // Its own copy: every joined caller reads these bytes, and one may write into (or transfer) what it read.
        if (bytes.byteLength > 0) controller.enqueue(bytes.slice())
        controller.close()
        // A BYOB read waiting for more is told there is none.
        controller.byobRequest?.respond(0)
      },
    })
  }
  const response = parcel.copy(body)
  if (parcel.own !== undefined) keepWith(response, parcel.own)
  return { ...parcel.outcome, kind: 'response', response, coalesced: true }
}

/** The parcel's bytes; undefined on the caller's abort or when none came for IDLE_AFTER. Keeps a timer: workerd cancels a request waiting on nothing of its own. */
function arrival(parcel: Parcel, signal: AbortSignal | undefined): Promise<Uint8Array | null | undefined> {
  return new Promise((resolve) => {
    let timer: ReturnType<typeof setTimeout> | undefined
    const end = (bytes: Uint8Array | null | undefined) => {
      clearTimeout(timer)
      signal?.removeEventListener('abort', gone)
      resolve(bytes)
    }
    const gone = () => end(undefined)
    const watch = () => {
      const idle = now() - parcel.progress.at
      if (idle >= IDLE_AFTER) end(undefined)
      else timer = setTimeout(watch, IDLE_AFTER - idle)
    }
    // Aborted already: while this chunk loaded.
    if (signal?.aborted) return resolve(undefined)
    signal?.addEventListener('abort', gone, { once: true })
    watch()
    void parcel.bytes.then(end)
  })
}
