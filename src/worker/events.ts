import type { BreakerState, ResilienceSnapshot } from '../types.js'
import { now } from '../clock.js'

/** What the event stream needs from a ResilientFetch. */
export interface StateChangeSource {
  addEventListener(type: 'statechange', listener: (event: CustomEvent<{ key: string; from: BreakerState; to: BreakerState }>) => void): void
  removeEventListener(type: 'statechange', listener: (event: CustomEvent<{ key: string; from: BreakerState; to: BreakerState }>) => void): void
}

/** Where the proxy announces a last-known-good copy it served (`age` in seconds, as the library's `fallback` event). */
export interface FallbackSource {
  addEventListener(type: 'fallback', listener: (event: Event) => void): void
  removeEventListener(type: 'fallback', listener: (event: Event) => void): void
}

/** Below a second, so a timer that fires a little late still keeps "at least once a second". */
export const SNAPSHOT_INTERVAL = 900

/** Unread events after which the client is taken to be gone. */
export const MAX_BACKLOG = 32

/**
 * A stream whose snapshot timer has not run for this long is taken to be gone: without the request signal, workerd
 * cancels a gone client's request, timers included, but neither aborts a signal nor cancels the stream.
 */
export const DEAD_AFTER = 5 * SNAPSHOT_INTERVAL

/**
 * Streams an isolate keeps open at once; one more is answered 503 (Retry-After: DEAD_AFTER, by when the streams
 * of clients that went away are dropped). Each costs a listener and a timer of its own, even with the snapshot shared.
 */
export const MAX_STREAMS = 100

/** The isolate's open streams: each new one (and each event) stops those whose timer died with their request. */
const streams = new Set<{ alive(t: number): boolean; stop(): void }>()

/**
 * The last snapshot sent, per source, serialised: every stream of the isolate sends it. The stream that built it
 * builds the next on its next tick; another builds only when it is SNAPSHOT_INTERVAL old (that one stopped). So
 * N streams cost one build a tick, and none sends a snapshot older than SNAPSHOT_INTERVAL.
 */
const lastSnapshot = new WeakMap<StateChangeSource, { at: number; chunk: Uint8Array; by: object }>()

/** The stream's headers; a HEAD request gets them alone. */
export const EVENT_STREAM_HEADERS: Readonly<Record<string, string>> = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-store',
  'x-accel-buffering': 'no',
}

const encoder = new TextEncoder()

const encode = (event: string, data: unknown): Uint8Array => encoder.encode(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`)

/** The snapshot for `stream` to send at `t`: the one another stream built within SNAPSHOT_INTERVAL, or a new one. */
function snapshotChunk(source: StateChangeSource, snapshot: () => ResilienceSnapshot, stream: object, t: number): Uint8Array {
  const last = lastSnapshot.get(source)
  if (last !== undefined && last.by !== stream && t - last.at < SNAPSHOT_INTERVAL) return last.chunk
  const chunk = encode('snapshot', snapshot())
  lastSnapshot.set(source, { at: t, chunk, by: stream })
  return chunk
}

/** The answer to one stream too many: the isolate's are MAX_STREAMS. */
const tooMany = (): Response =>
  new Response(JSON.stringify({ error: 'too_many_streams' }), {
    status: 503,
    headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', 'retry-after': String(Math.ceil(DEAD_AFTER / 1_000)) },
  })

/**
 * A Server-Sent Events response: `event: statechange` with `{ key, from, to, at }` on every state
 * change, `event: fallback` with `{ key, age, at }` for every copy served (when `fallbacks` is given),
 * and `event: snapshot` with the snapshot at once and then every SNAPSHOT_INTERVAL ms (built once a tick for all
 * the isolate's streams of `source`; each keeps a timer of its own, as workerd kills a request that only another's waits on).
 * The listener and the timer go away when the client disconnects: stream cancelled, signal aborted
 * (workerd: compatibility flag enable_request_signal), MAX_BACKLOG events left unread, or (without that
 * flag) its timer silent for DEAD_AFTER, seen by the next stream opened or the next event.
 * Beyond MAX_STREAMS open streams, a 503.
 */
export function eventStream(source: StateChangeSource, snapshot: () => ResilienceSnapshot, signal?: AbortSignal, fallbacks?: FallbackSource): Response {
  let stop = (): void => {}
  const t = now()
  for (const stream of streams) if (!stream.alive(t)) stream.stop()
  if (streams.size >= MAX_STREAMS) return tooMany()
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      let ticked = t
      const alive = (at: number): boolean => at - ticked < DEAD_AFTER
      const send = (chunk: () => Uint8Array): void => {
        // Without the request signal, a client that left shows only as events nobody reads, and a timer that stopped.
        if (!alive(now())) return stop()
        if ((controller.desiredSize ?? 0) < -MAX_BACKLOG) {
          stop()
          controller.error(new Error('event stream client stopped reading'))
          return
        }
        try {
          controller.enqueue(chunk())
        } catch {
          stop()
        }
      }
      const onStateChange = (event: CustomEvent<{ key: string; from: BreakerState; to: BreakerState }>): void => {
        const { key, from, to } = event.detail
        send(() => encode('statechange', { key, from, to, at: now() }))
      }
      const onFallback = (event: Event): void => {
        const { key, age } = (event as CustomEvent<{ key: string; age: number }>).detail
        send(() => encode('fallback', { key, age, at: now() }))
      }
      let stopped = false
      const entry = { alive, stop: () => stop() }
      const sendSnapshot = (): void => send(() => snapshotChunk(source, snapshot, entry, now()))
      const timer = setInterval(() => {
        ticked = now()
        sendSnapshot()
      }, SNAPSHOT_INTERVAL)
      stop = () => {
        if (stopped) return
        stopped = true
        streams.delete(entry)
        clearInterval(timer)
        source.removeEventListener('statechange', onStateChange)
        fallbacks?.removeEventListener('fallback', onFallback)
        signal?.removeEventListener('abort', stop)
      }
      streams.add(entry)
      source.addEventListener('statechange', onStateChange)
      fallbacks?.addEventListener('fallback', onFallback)
      signal?.addEventListener('abort', stop)
      if (signal?.aborted) stop()
      else sendSnapshot()
    },
    cancel() {
      stop()
    },
  })
  return new Response(body, { headers: EVENT_STREAM_HEADERS })
}
