/**
 * /events in one isolate: N dashboards must not cost N snapshot builds (and N JSON serialisations) each tick. Every
 * stream still sends a snapshot each SNAPSHOT_INTERVAL from its own timer, never one older than SNAPSHOT_INTERVAL;
 * the snapshot is built once a tick for all of them. And the streams an isolate keeps open are bounded: one more is
 * answered 503 with Retry-After, until one goes.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { DEAD_AFTER, eventStream, MAX_STREAMS, SNAPSHOT_INTERVAL, type StateChangeSource } from '../src/worker/events.js'
import type { ResilienceSnapshot } from '../src/types.js'
import { readEvents } from './event-stream-reader.js'

const TOTALS = { requests: 0, successes: 0, failures: 0, rejected: 0, timeouts: 0, retries: 0, fallbacks: 0, hedges: 0, throttled: 0, coalesced: 0 }

/** A snapshot source that counts its builds; each snapshot's `at` is when it was built. */
function counted() {
  let builds = 0
  return {
    get builds() {
      return builds
    },
    snapshot: (): ResilienceSnapshot => (builds++, { at: Date.now(), breakers: [], bulkheads: [], totals: TOTALS, latencies: [] }),
  }
}

/** Reads a stream as it comes: each snapshot's `at`, with when it arrived. */
function follow(response: Response) {
  const { events, arrivals, abort } = readEvents(response)
  return {
    get snapshots() {
      return events.flatMap(({ event, data }, i) => (event === 'snapshot' ? [{ receivedAt: arrivals[i]!, at: data.at }] : []))
    },
    close: () => abort.abort(),
  }
}

beforeEach(() => {
  vi.useFakeTimers({ now: 1_000_000 })
})

afterEach(() => {
  vi.useRealTimers()
})

describe('/events snapshots shared by the isolate\'s streams', () => {
  it('N streams opened at different times cost one build a tick; each still gets a snapshot a tick, none older than a tick', async () => {
    const source = new EventTarget() as unknown as StateChangeSource
    const counter = counted()
    const clients = []
    for (let i = 0; i < 5; i++) {
      clients.push(follow(eventStream(source, counter.snapshot)))
      await vi.advanceTimersByTimeAsync(170)
    }
    const ticks = 20
    await vi.advanceTimersByTimeAsync(ticks * SNAPSHOT_INTERVAL)
    // The first stream's opening snapshot, then one a tick (its timer's); before, each stream built its own.
    expect(counter.builds).toBeLessThanOrEqual(ticks + 2)
    for (const { snapshots } of clients) {
      expect(snapshots.length).toBeGreaterThanOrEqual(ticks)
      for (const { receivedAt, at } of snapshots) expect(receivedAt - at).toBeLessThan(SNAPSHOT_INTERVAL)
    }
    for (const client of clients) client.close()
    await vi.advanceTimersByTimeAsync(0)
  })

  it('when the stream that built the snapshots goes, another builds them: none gets an old one', async () => {
    const source = new EventTarget() as unknown as StateChangeSource
    const counter = counted()
    const first = follow(eventStream(source, counter.snapshot))
    await vi.advanceTimersByTimeAsync(300)
    const second = follow(eventStream(source, counter.snapshot))
    await vi.advanceTimersByTimeAsync(2 * SNAPSHOT_INTERVAL)
    first.close()
    await vi.advanceTimersByTimeAsync(0)
    const before = second.snapshots.length
    await vi.advanceTimersByTimeAsync(5 * SNAPSHOT_INTERVAL)
    expect(second.snapshots.length - before).toBe(5)
    for (const { receivedAt, at } of second.snapshots) expect(receivedAt - at).toBeLessThan(SNAPSHOT_INTERVAL)
    second.close()
    await vi.advanceTimersByTimeAsync(0)
  })

  it('streams of two sources do not share a snapshot', async () => {
    const a = counted()
    const b = counted()
    const clients = [follow(eventStream(new EventTarget() as never, a.snapshot)), follow(eventStream(new EventTarget() as never, b.snapshot))]
    await vi.advanceTimersByTimeAsync(3 * SNAPSHOT_INTERVAL)
    expect([a.builds, b.builds]).toEqual([4, 4])
    for (const client of clients) client.close()
    await vi.advanceTimersByTimeAsync(0)
  })
})

describe('/events streams per isolate', () => {
  it(`beyond MAX_STREAMS (${MAX_STREAMS}) open, one more is answered 503 with Retry-After and costs no listener; one gone, one more is let in`, async () => {
    let listeners = 0
    const source: StateChangeSource = { addEventListener: () => void listeners++, removeEventListener: () => void listeners-- }
    const { snapshot } = counted()
    const clients = Array.from({ length: MAX_STREAMS }, () => follow(eventStream(source, snapshot)))
    expect(listeners).toBe(MAX_STREAMS)
    const refused = eventStream(source, snapshot)
    expect(refused.status).toBe(503)
    expect(refused.headers.get('retry-after')).toBe(String(Math.ceil(DEAD_AFTER / 1_000)))
    expect(await refused.json()).toEqual({ error: 'too_many_streams' })
    expect(listeners).toBe(MAX_STREAMS)
    clients.pop()!.close()
    await vi.advanceTimersByTimeAsync(0)
    expect(listeners).toBe(MAX_STREAMS - 1)
    const admitted = eventStream(source, snapshot)
    expect(admitted.status).toBe(200)
    clients.push(follow(admitted))
    for (const client of clients) client.close()
    await vi.advanceTimersByTimeAsync(0)
    expect(listeners).toBe(0)
  })
})
