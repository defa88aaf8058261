/**
 * /events edges the other node suites left open (mutants of src/worker/events.ts survived them): streams whose timer went
 * silent for DEAD_AFTER are dropped, at that age and not before; a snapshot SNAPSHOT_INTERVAL old is built anew; and a
 * wall clock set back does not freeze the shared snapshot.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { DEAD_AFTER, eventStream, MAX_BACKLOG, MAX_STREAMS, SNAPSHOT_INTERVAL, type StateChangeSource } from '../src/worker/events.js'
import type { ResilienceSnapshot } from '../src/types.js'
import { readEvents } from './event-stream-reader.js'

const TOTALS = { requests: 0, successes: 0, failures: 0, rejected: 0, timeouts: 0, retries: 0, fallbacks: 0, hedges: 0, throttled: 0, coalesced: 0 }

/** A snapshot whose `at` is when it was built. */
const snapshot = (): ResilienceSnapshot => ({ at: Date.now(), breakers: [], bulkheads: [], totals: TOTALS, latencies: [] })

/** An event source that counts the listeners it holds (one removed only under the type it was added for). */
function countedSource() {
  const target = new EventTarget()
  const held = new Map<EventListener, string>()
  const source = {
    get listeners() {
      return held.size
    },
    addEventListener: (type: string, listener: EventListener) => (held.set(listener, type), target.addEventListener(type, listener)),
    removeEventListener: (type: string, listener: EventListener) => {
      if (held.get(listener) === type) held.delete(listener)
      target.removeEventListener(type, listener)
    },
    dispatch: (type: string, detail: unknown) => target.dispatchEvent(new CustomEvent(type, { detail })),
  }
  return source as typeof source & StateChangeSource
}

/** The streams a test followed: closed after it, whatever it asserted, so the isolate's count starts at zero. */
const followed: AbortController[] = []

/** Reads a stream as it comes (each event's name and data), closed after the test. */
function follow(response: Response) {
  const { events, abort } = readEvents(response)
  followed.push(abort)
  return { events, snapshots: () => events.filter(({ event }) => event === 'snapshot').map(({ data }) => data.at), close: () => abort.abort() }
}

beforeEach(() => void vi.useFakeTimers({ now: 1_000_000 }))
afterEach(async () => {
  for (const abort of followed.splice(0)) abort.abort()
  await vi.advanceTimersByTimeAsync(0)
  vi.useRealTimers()
})

describe('/events streams whose timer went silent (workerd cancelled their request)', () => {
  it(`are dropped once silent DEAD_AFTER (${DEAD_AFTER} ms), seen by the next stream opened: it is let in past MAX_STREAMS, their listeners gone`, async () => {
    const source = countedSource()
    const clients = Array.from({ length: MAX_STREAMS }, () => follow(eventStream(source, snapshot)))
    // The wall clock moves and no timer runs: as when workerd cancelled the requests' timers.
    vi.setSystemTime(Date.now() + DEAD_AFTER - 1)
    expect(eventStream(source, snapshot).status).toBe(503)
    expect(source.listeners).toBe(MAX_STREAMS)
    vi.setSystemTime(Date.now() + 1)
    const admitted = eventStream(source, snapshot)
    expect(admitted.status).toBe(200)
    expect(source.listeners).toBe(1)
    for (const client of [...clients, follow(admitted)]) client.close()
  })

  it('one that hears an event after DEAD_AFTER silent stops: its listener goes, the event is not sent', async () => {
    const source = countedSource()
    const client = follow(eventStream(source, snapshot))
    await vi.advanceTimersByTimeAsync(0)
    vi.setSystemTime(Date.now() + DEAD_AFTER)
    source.dispatch('statechange', { key: 'k', from: 'closed', to: 'open' })
    await vi.advanceTimersByTimeAsync(0)
    expect(source.listeners).toBe(0)
    expect(client.events.map(({ event }) => event)).toEqual(['snapshot'])
    client.close()
  })
})

describe('/events shared snapshot', () => {
  it('a stream whose builder went builds anew when the snapshot is SNAPSHOT_INTERVAL old, not one tick later', async () => {
    const source = countedSource()
    const builder = follow(eventStream(source, snapshot))
    const other = follow(eventStream(source, snapshot))
    const opened = Date.now()
    // Both ticks at SNAPSHOT_INTERVAL: the builder's timer runs first and builds; then it goes.
    await vi.advanceTimersByTimeAsync(SNAPSHOT_INTERVAL)
    builder.close()
    await vi.advanceTimersByTimeAsync(SNAPSHOT_INTERVAL)
    expect(other.snapshots()).toEqual([opened, opened + SNAPSHOT_INTERVAL, opened + 2 * SNAPSHOT_INTERVAL])
    other.close()
  })

  it('the stream that builds it builds anew every tick after the wall clock is set back, not the one of before the step for an hour', async () => {
    const source = countedSource()
    const client = follow(eventStream(source, snapshot))
    await vi.advanceTimersByTimeAsync(SNAPSHOT_INTERVAL)
    vi.setSystemTime(Date.now() - 3_600_000)
    const stepped = Date.now()
    await vi.advanceTimersByTimeAsync(2 * SNAPSHOT_INTERVAL)
    expect(client.snapshots().slice(-2)).toEqual([stepped + SNAPSHOT_INTERVAL, stepped + 2 * SNAPSHOT_INTERVAL])
    client.close()
  })
})

describe('/events headers', () => {
  it('a stream is an event stream nobody caches or buffers; the one too many is JSON nobody caches', async () => {
    const source = countedSource()
    const opened = eventStream(source, snapshot)
    expect(Object.fromEntries(opened.headers)).toEqual({ 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', 'x-accel-buffering': 'no' })
    follow(opened)
    for (let i = 1; i < MAX_STREAMS; i++) follow(eventStream(source, snapshot))
    const refused = eventStream(source, snapshot)
    expect(Object.fromEntries(refused.headers)).toEqual({ 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', 'retry-after': String(Math.ceil(DEAD_AFTER / 1_000)) })
  })
})

describe('/events in node, as in workerd', () => {
  it('sends statechange and fallback as they come; a stream closed removes its listeners from the source, the fallbacks and the signal', async () => {
    const source = countedSource()
    const fallbacks = countedSource()
    const signal = new AbortController().signal
    const removed = vi.spyOn(signal, 'removeEventListener')
    const client = follow(eventStream(source, snapshot, signal, fallbacks))
    source.dispatch('statechange', { key: 'k', from: 'closed', to: 'open' })
    fallbacks.dispatch('fallback', { key: 'k', age: 3 })
    await vi.advanceTimersByTimeAsync(0)
    expect(client.events).toEqual([
      { event: 'snapshot', data: expect.any(Object) },
      { event: 'statechange', data: { key: 'k', from: 'closed', to: 'open', at: Date.now() } },
      { event: 'fallback', data: { key: 'k', age: 3, at: Date.now() } },
    ])
    client.close()
    await vi.advanceTimersByTimeAsync(0)
    expect([source.listeners, fallbacks.listeners]).toEqual([0, 0])
    expect(removed).toHaveBeenCalledWith('abort', expect.any(Function))
  })

  it('an aborted request signal stops the stream, whether it aborts while the stream is open or before', async () => {
    const source = countedSource()
    const request = new AbortController()
    follow(eventStream(source, snapshot, request.signal))
    expect(source.listeners).toBe(1)
    request.abort()
    expect(source.listeners).toBe(0)
    follow(eventStream(source, snapshot, request.signal))
    expect(source.listeners).toBe(0)
  })

  it('a client that reads nothing is dropped once more than MAX_BACKLOG events wait unread, not before', async () => {
    const source = countedSource()
    const response = eventStream(source, snapshot)
    // The opening snapshot fills the stream's one-chunk buffer; then MAX_BACKLOG + 1 events wait.
    for (let i = 0; i <= MAX_BACKLOG; i++) source.dispatch('statechange', { key: 'k', from: 'closed', to: 'open' })
    expect(source.listeners).toBe(1)
    source.dispatch('statechange', { key: 'k', from: 'closed', to: 'open' })
    expect(source.listeners).toBe(0)
    await expect(response.body!.getReader().read()).rejects.toThrow('event stream client stopped reading')
  })
})
