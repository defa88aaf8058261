import { describe, expect, it } from 'vitest'
import { eventStream, MAX_BACKLOG } from '../../src/worker/events.js'
import type { ResilienceSnapshot } from '../../src/types.js'

/** An EventTarget that counts its statechange listeners. */
class Source extends EventTarget {
  listeners = 0
  override addEventListener(type: string, listener: EventListenerOrEventListenerObject | null, options?: boolean | AddEventListenerOptions) {
    this.listeners++
    super.addEventListener(type, listener, options)
  }
  override removeEventListener(type: string, listener: EventListenerOrEventListenerObject | null, options?: boolean | EventListenerOptions) {
    this.listeners--
    super.removeEventListener(type, listener, options)
  }
  change(key: string, from: string, to: string) {
    this.dispatchEvent(new CustomEvent('statechange', { detail: { key, from, to } }))
  }
}

const SNAPSHOT: ResilienceSnapshot = { at: 1, breakers: [], bulkheads: [], totals: { requests: 0, successes: 0, failures: 0, rejected: 0, timeouts: 0, retries: 0, fallbacks: 0, hedges: 0, throttled: 0, coalesced: 0 }, latencies: [] }

function events(text: string) {
  return text
    .split('\n\n')
    .filter(Boolean)
    .map((block) => ({ event: /^event: (.*)$/m.exec(block)?.[1], data: JSON.parse(/^data: (.*)$/m.exec(block)![1]) }))
}

describe('/events stream', () => {
  it('sends statechange as it happens and a snapshot at least once a second', async () => {
    const source = new Source()
    let snapshots = 0
    const response = eventStream(source as never, () => ({ ...SNAPSHOT, at: ++snapshots }))
    const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader()
    let text = (await reader.read()).value!
    source.change('http://a.test', 'closed', 'open')
    while (events(text).filter((e) => e.event === 'snapshot').length < 2) text += (await reader.read()).value!
    const all = events(text)
    expect(all[0]).toEqual({ event: 'snapshot', data: { ...SNAPSHOT, at: 1 } })
    expect(all[1]).toEqual({ event: 'statechange', data: { key: 'http://a.test', from: 'closed', to: 'open', at: expect.any(Number) } })
    expect(all[2]).toEqual({ event: 'snapshot', data: { ...SNAPSHOT, at: 2 } })
    await reader.cancel()
  })

  it('removes its listener and timer when the client disconnects', async () => {
    const source = new Source()
    let snapshots = 0
    const response = eventStream(source as never, () => (snapshots++, SNAPSHOT))
    const reader = response.body!.getReader()
    await reader.read()
    expect(source.listeners).toBe(1)
    await reader.cancel()
    expect(source.listeners).toBe(0)
    const taken = snapshots
    await new Promise((r) => setTimeout(r, 1_000))
    expect(snapshots).toBe(taken)
  })

  it('removes its listener when the request is aborted', async () => {
    const source = new Source()
    const controller = new AbortController()
    eventStream(source as never, () => SNAPSHOT, controller.signal)
    expect(source.listeners).toBe(1)
    controller.abort()
    expect(source.listeners).toBe(0)
  })

  it('drops a client that stopped reading after MAX_BACKLOG unread events', () => {
    const source = new Source()
    eventStream(source as never, () => SNAPSHOT)
    for (let i = 0; i < MAX_BACKLOG; i++) source.change('http://a.test', 'closed', 'open')
    expect(source.listeners).toBe(1)
    for (let i = 0; i < 3; i++) source.change('http://a.test', 'open', 'half-open')
    expect(source.listeners).toBe(0)
  })
})
