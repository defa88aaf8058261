/**
 * Coalescing where a request's I/O objects are its own (workerd: navigator.userAgent 'Cloudflare-Workers'), each rule
 * pinned by a case that tells it apart (found by mutation testing): fake transport, fake time.
 */
import { describe, expect, it, vi } from 'vitest'
import { coalesceStage, MAX_LAG_BYTES, type Flights } from '../src/stages/coalesce.js'
import { IDLE_AFTER } from '../src/stages/handover.js'
import type { Call, Outcome } from '../src/stages/types.js'
import { testCall, testRuntime } from './stages/helpers.js'
import { inWorkerdWithFakeTime } from './coalesce-helpers.js'

inWorkerdWithFakeTime()

const settle = () => vi.advanceTimersByTimeAsync(0)
const encode = (text: string) => new TextEncoder().encode(text)

/**
 * The stage with a fake transport: each request waits until the test answers it with a body the test writes, and,
 * as fetch's, that body errors when the request's signal aborts.
 */
async function setup() {
  const { runtime, totals } = testRuntime(() => Date.now())
  const stage = (await coalesceStage(true, runtime))!
  const flights: Flights = stage.forKey!('https://a.test')
  const sent: { call: Call; answer: (init?: ResponseInit) => { write: (text: string) => void; end: () => void } }[] = []
  const next = (call: Call) =>
    new Promise<Outcome>((resolve) => {
      const answer = (init?: ResponseInit) => {
        let body!: ReadableStreamDefaultController<Uint8Array>
        const stream = new ReadableStream<Uint8Array>({ start: (c) => void (body = c) })
        call.signal?.addEventListener('abort', () => body.error(call.signal!.reason), { once: true })
        resolve({ kind: 'response', response: new Response(stream, init), failure: false, duration: 1 })
        return { write: (text: string) => body.enqueue(encode(text)), end: () => body.close() }
      }
      sent.push({ call, answer })
    })
  const run = (parts: Partial<Call> = {}) => stage.run(testCall({ at: Date.now(), waitUntil: () => {}, ...parts }), next, flights)
  return { run, sent, totals, flights }
}

describe('a joined caller where I/O is per request', () => {
  it("that aborts once answered leaves the shared request alone: the first caller reads its whole body", async () => {
    const { run, sent } = await setup()
    const joiner = new AbortController()
    const first = run({ signal: new AbortController().signal })
    const joined = run({ signal: joiner.signal })
    await settle()
    const body = sent[0]!.answer()
    const leader = await first
    body.write('part one,')
    joiner.abort(new Error('joined caller left'))
    expect((await joined).kind).toBe('aborted')
    body.write('part two')
    body.end()
    if (leader.kind !== 'response') throw new Error('no response')
    expect(await leader.response.text()).toBe('part one,part two')
    expect(sent).toHaveLength(1)
  })

  it('that aborts once the shared response landed, before its bytes came, ends at once, sending nothing', async () => {
    const { run, sent, flights } = await setup()
    const joiner = new AbortController()
    void run()
    const joined = run({ signal: joiner.signal })
    let settled: Outcome | undefined
    void joined.then((outcome) => (settled = outcome))
    await settle()
    sent[0]!.answer().write('part one,')
    await Promise.resolve()
    // Landed: the joined caller is no longer among the shared request's callers, its parcel on its way.
    expect(flights.size).toBe(0)
    const reason = new Error('joined caller left')
    joiner.abort(reason)
    await settle()
    expect(settled).toEqual({ kind: 'aborted', reason })
    expect([sent.length, vi.getTimerCount()]).toEqual([1, 0])
  })

  it('that aborts while it waits for the bytes ends at once, sending nothing and leaving no timer', async () => {
    const { run, sent } = await setup()
    const joiner = new AbortController()
    void run()
    const joined = run({ signal: joiner.signal })
    let settled: Outcome | undefined
    void joined.then((outcome) => (settled = outcome))
    await settle()
    sent[0]!.answer().write('part one,')
    await vi.advanceTimersByTimeAsync(100)
    expect(settled).toBeUndefined()
    const reason = new Error('joined caller left')
    joiner.abort(reason)
    await settle()
    expect(settled).toEqual({ kind: 'aborted', reason })
    expect([sent.length, vi.getTimerCount()]).toEqual([1, 0])
  })

  it('sends its own request when none of the body comes for IDLE_AFTER', async () => {
    const { run, sent } = await setup()
    void run()
    const joined = run()
    await settle()
    sent[0]!.answer()
    await vi.advanceTimersByTimeAsync(IDLE_AFTER - 1)
    expect(sent).toHaveLength(1)
    await vi.advanceTimersByTimeAsync(1)
    expect(sent).toHaveLength(2)
    sent[1]!.answer().end()
    expect(await joined).toMatchObject({ kind: 'response' })
  })

  it('sends its own request at once when the Content-Length says the body is past the cap, before any of it came', async () => {
    const { run, sent } = await setup()
    void run()
    void run()
    await settle()
    sent[0]!.answer({ headers: { 'content-length': String(MAX_LAG_BYTES / 2 + 1) } })
    await settle()
    expect(sent).toHaveLength(2)
  })
})
