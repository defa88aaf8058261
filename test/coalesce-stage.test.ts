import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { normalizeOptions } from '../src/options.js'
import { createCall } from '../src/stages/call.js'
import { coalesceStage, identity, type Flights } from '../src/stages/coalesce.js'
import { Keys } from '../src/stages/keys.js'
import type { Call, Outcome } from '../src/stages/types.js'
import { fakeClock, networkError, testCall, testRuntime } from './stages/helpers.js'

describe('coalesce options', () => {
  it('is off by default: no stage, nothing loaded, nothing run', () => {
    expect(normalizeOptions({}).coalesce).toBe(false)
    expect(coalesceStage(normalizeOptions({}).coalesce, testRuntime().runtime)).toBeUndefined()
  })

  it('refuses a value that is not a boolean, naming the option and the value', () => {
    expect(() => normalizeOptions({ coalesce: 'yes' as never })).toThrow(new TypeError('coalesce must be a boolean, got "yes"'))
    const keys = new Keys([], 10)
    expect(() => createCall('https://a.test/x', { resilience: { coalesce: 1 as never } }, normalizeOptions({}), keys, 0)).toThrow(new TypeError('resilience.coalesce must be a boolean, got 1'))
  })
})

describe('which calls are the same request', () => {
  const id = (parts: Partial<Call>) => identity(testCall(parts))

  it('same URL, header values and settings: the same identity, however the headers are written', () => {
    expect(id({ init: { headers: { Accept: 'a', 'X-B': 'b' } } })).toBe(id({ init: { headers: [['x-b', 'b'], ['accept', 'a']] } }))
    expect(id({ init: { cache: 'default', credentials: 'same-origin' } })).toBe(id({}))
    expect(id({ init: { headers: { accept: 'a' } } })).not.toBe(id({ init: { headers: { accept: 'b' } } }))
    expect(id({ init: { credentials: 'include' } })).not.toBe(id({}))
    expect(id({ options: { retry: 5 } })).not.toBe(id({}))
  })

  it('calls of different priority are different requests (the shared call queues with its leader\'s)', () => {
    expect(id({ priority: 0 })).not.toBe(id({ priority: 2 }))
    expect(id({ priority: 0 })).not.toBe(id({ priority: 1 }))
    expect(id({ priority: 2 })).toBe(id({ priority: 2 }))
  })

  it("never with a runtime's own fetch options (a dispatcher, client, proxy or tls may route or authenticate it otherwise)", () => {
    for (const own of [{ dispatcher: {} }, { client: {} }, { proxy: 'http://p.test:3128' }, { tls: { cert: 'c' } }]) {
      expect(id({ init: own as RequestInit })).toBeUndefined()
    }
    expect(id({ init: { priority: 'high', window: null, signal: new AbortController().signal, redirect: 'follow', resilience: undefined } as RequestInit })).toBe(id({}))
  })

  it('never for a body, a method but GET, credentials in headers, no-store, reload, no-cors, a redirect mode but follow, or an opt-out', () => {
    const excluded: Partial<Call>[] = [
      { method: 'POST', init: { method: 'POST', body: 'x' } },
      { method: 'HEAD' },
      { init: { headers: { Authorization: 'Bearer x' } } },
      { init: { headers: { Cookie: 'a=1' } } },
      { init: { cache: 'no-store' as const } },
      { init: { cache: 'reload' as const } },
      { init: { mode: 'no-cors' as const } },
      { init: { redirect: 'manual' as const } },
      { init: { redirect: 'error' as const } },
      { input: new Request('https://a.test/x', { redirect: 'manual' }) },
      { options: { coalesce: false } },
      { input: new Request('https://a.test/x', { headers: { authorization: 'x' } }) },
    ]
    for (const parts of excluded) {
      expect(id(parts)).toBeUndefined()
    }
  })
})

/** One caller of the property test: how its call ended, and how many times. */
interface Caller {
  controller: AbortController
  settled: number
  outcome: Outcome | undefined
}

type Step =
  | { op: 'call'; signal: boolean }
  | { op: 'abort'; who: number }
  | { op: 'answer'; with: 'response' | 'error' | 'refused' | 'empty' }
  | { op: 'read'; who: number }

const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 4, arbitrary: fc.boolean().map((signal) => ({ op: 'call' as const, signal })) },
  { weight: 3, arbitrary: fc.nat(15).map((who) => ({ op: 'abort' as const, who })) },
  { weight: 2, arbitrary: fc.constantFrom('response', 'error', 'refused', 'empty').map((w) => ({ op: 'answer' as const, with: w as 'response' })) },
  { weight: 2, arbitrary: fc.nat(15).map((who) => ({ op: 'read' as const, who })) },
)

const flush = async () => {
  for (let i = 0; i < 5; i++) await Promise.resolve()
}

describe('property: random interleavings of joins, aborts and outcomes (fake transport, fake time)', () => {
  it('every caller settles exactly once, the transport runs once per flight, and nothing is left in flight', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(step, { maxLength: 40 }), async (steps) => {
        const clock = fakeClock()
        const { runtime, totals } = testRuntime(clock.now)
        const stage = (await coalesceStage(true, runtime))!
        const flights: Flights = stage.forKey!('https://a.test')
        const callers: Caller[] = []
        // The fake transport: each request waits for an 'answer' step, or ends on its signal.
        const sent: { resolve: (o: Outcome) => void }[] = []
        const next = (call: Call) =>
          new Promise<Outcome>((resolve) => {
            const signal = call.signal
            sent.push({ resolve })
            signal?.addEventListener('abort', () => resolve({ kind: 'aborted', reason: signal.reason }), { once: true })
          })
        let joined = 0
        for (const s of steps) {
          clock.advance(1)
          if (s.op === 'call') {
            const controller = new AbortController()
            const caller: Caller = { controller, settled: 0, outcome: undefined }
            callers.push(caller)
            if (flights.size > 0) joined++
            void stage.run(testCall({ signal: s.signal ? controller.signal : undefined }), next, flights).then((o) => {
              caller.settled++
              caller.outcome = o
            })
          } else if (s.op === 'abort') {
            callers[s.who]?.controller.abort(new Error(`caller ${s.who}`))
          } else if (s.op === 'read') {
            const o = callers[s.who]?.outcome
            if (o?.kind === 'response' && !o.response.bodyUsed) await o.response.text().catch(() => {})
          } else {
            const open = sent.at(-1)
            const body = s.with === 'empty' ? null : 'shared body'
            open?.resolve(s.with === 'error' ? networkError() : s.with === 'refused' ? { kind: 'refused', reason: 'open', error: new Error('open') } : { kind: 'response', response: new Response(body), failure: false, duration: 1 })
          }
          await flush()
        }
        // Callers that got a response each read the whole body, whoever read before them.
        for (const { outcome, controller } of callers) {
          if (outcome?.kind !== 'response' || outcome.response.bodyUsed) continue
          // A caller's abort after its response errors its own body only.
          const read = await outcome.response.text().catch((error: unknown) => error)
          expect(['shared body', '', ...(controller.signal.aborted ? [controller.signal.reason] : [])]).toContain(read)
        }
        // Whatever is still in flight ends: its callers abort, and (a first caller without a signal never leaves) every request answers.
        for (const caller of callers) caller.controller.abort(new Error('end'))
        await flush()
        for (const request of sent) request.resolve(networkError())
        await flush()
        expect(callers.map((c) => c.settled)).toEqual(callers.map(() => 1))
        expect(flights.size).toBe(0)
        expect(stage.busy!(flights)).toBe(false)
        expect(totals.coalesced).toBe(joined)
        expect(sent).toHaveLength(callers.length - joined)
      }),
      { numRuns: 300 },
    )
  })
})

describe('a shared request whose stage below throws', () => {
  it("reaches its first caller and every joined one as the request's refusal, and the next call sends its own", async () => {
    const { runtime, totals } = testRuntime()
    const stage = (await coalesceStage(true, runtime))!
    const flights: Flights = stage.forKey!('https://a.test')
    const thrown = new Error('a stage below threw')
    let sent = 0
    const next = (): Promise<Outcome> => (sent++, sent === 1 ? Promise.reject(thrown) : Promise.resolve({ kind: 'response', response: new Response('again'), failure: false, duration: 1 }))
    const outcomes = await Promise.all([stage.run(testCall(), next, flights), stage.run(testCall(), next, flights)])
    expect(outcomes).toEqual([
      { kind: 'refused', reason: 'request', error: thrown },
      { kind: 'refused', reason: 'request', error: thrown },
    ])
    expect([sent, totals.coalesced, flights.size]).toEqual([1, 1, 0])
    const later = await stage.run(testCall(), next, flights)
    expect(later.kind === 'response' && (await later.response.text())).toBe('again')
  })
})
