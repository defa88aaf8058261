/**
 * The coalescing stage's identity and the life of a shared request, each rule pinned by a case that tells it apart
 * (found by mutation testing): fake transport, fake clock.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { BodyTee, coalesceStage, identity, MAX_LAG_BYTES, type Flights } from '../src/stages/coalesce.js'
import { LOST_AFTER } from '../src/core.js'
import { normalizeTimeout } from '../src/options.js'
import type { Call, Outcome } from '../src/stages/types.js'
import { testCall, testRuntime } from './stages/helpers.js'

const id = (parts: Partial<Call>) => identity(testCall(parts))

describe('which GETs are the same request', () => {
  it('a Request input with fetch\'s defaults is the same request as its URL given as a string', () => {
    expect(id({ input: new Request('https://a.test/x') })).toBe(id({}))
    // Each default spelled out is the default.
    expect(id({ init: { integrity: '', referrer: 'about:client', referrerPolicy: '', mode: 'cors', credentials: 'same-origin', cache: 'default' } })).toBe(id({}))
    expect(id({ init: { referrerPolicy: 'no-referrer' } })).not.toBe(id({}))
  })

  // A transport of the user's own may send a GET with a body (a search API's), or take init's method over a Request's.
  it("never for a GET with a body, in init or in the Request (init's method 'GET' over a POST Request's)", () => {
    expect(id({ init: { body: 'x' } })).toBeUndefined()
    expect(id({ init: { body: new Uint8Array(0) } })).toBeUndefined()
    expect(id({ input: new Request('https://a.test/x', { method: 'POST', body: 'x' }), init: { method: 'GET' } })).toBeUndefined()
  })

  it('a GET whose body is null has no body: it coalesces', () => {
    expect(id({ init: { body: null } })).toBe(id({}))
  })

  it("never for a Request input with cache 'no-store' or 'reload', or mode 'no-cors'", () => {
    for (const init of [{ cache: 'no-store' }, { cache: 'reload' }, { mode: 'no-cors' }] as RequestInit[]) {
      expect(id({ input: new Request('https://a.test/x', init) })).toBeUndefined()
    }
    expect(id({ input: new Request('https://a.test/x', { cache: 'no-cache' }) })).toBeDefined()
  })

  it('an init option whose name only contains one the identity knows (priority, window, resilience) is still a runtime\'s own', () => {
    for (const name of ['xpriority', 'priorityx', 'windowed', 'myresilience']) {
      expect(id({ init: { [name]: 1 } as RequestInit })).toBeUndefined()
    }
  })
})

beforeEach(() => {
  vi.useFakeTimers({ now: 1_000_000 })
})
afterEach(() => {
  vi.useRealTimers()
})

/** The stage with a fake transport whose requests wait until the test answers them; time moves by hand, firing no timer. */
async function setup() {
  const clock = { now: () => Date.now(), advance: (ms: number) => vi.setSystemTime(Date.now() + ms) }
  const { runtime, totals } = testRuntime(clock.now)
  const stage = (await coalesceStage(true, runtime))!
  const flights: Flights = stage.forKey!('https://a.test')
  const sent: { call: Call; answer: (outcome: Outcome) => void }[] = []
  const next = (call: Call) => new Promise<Outcome>((answer) => sent.push({ call, answer }))
  const run = (parts: Partial<Call> = {}) => stage.run(testCall({ at: clock.now(), ...parts }), next, flights)
  return { run, sent, totals, flights, clock }
}

const flush = async () => {
  for (let i = 0; i < 5; i++) await Promise.resolve()
}

const response = (body: BodyInit | null = 'shared'): Outcome & { kind: 'response' } => ({ kind: 'response', response: new Response(body), failure: false, duration: 1 })

describe('the life of a shared request', () => {
  it('a caller whose signal is aborted already sends nothing and joins nothing', async () => {
    const { run, sent, flights } = await setup()
    const reason = new Error('gone before')
    const outcome = await run({ signal: AbortSignal.abort(reason) })
    expect(outcome).toEqual({ kind: 'aborted', reason })
    expect([sent.length, flights.size]).toEqual([0, 0])
  })

  it('a lone caller gets the outcome the transport gave, its very Response (no copy)', async () => {
    const { run, sent } = await setup()
    const call = run({ signal: new AbortController().signal })
    await flush()
    const shared = response()
    sent[0]!.answer(shared)
    expect(await call).toBe(shared)
  })

  it('a joined caller left alone (the first one aborted) takes the response itself, marked coalesced', async () => {
    const { run, sent } = await setup()
    const controller = new AbortController()
    const first = run({ signal: controller.signal })
    const joined = run()
    await flush()
    controller.abort(new Error('first left'))
    expect((await first).kind).toBe('aborted')
    const shared = response()
    sent[0]!.answer(shared)
    const outcome = await joined
    expect(outcome).toMatchObject({ kind: 'response', coalesced: true, response: shared.response })
    expect(sent).toHaveLength(1)
  })

  it('the first caller of several is not marked coalesced; the others are', async () => {
    const { run, sent } = await setup()
    const calls = [run(), run()]
    await flush()
    sent[0]!.answer(response())
    expect((await Promise.all(calls)).map((o) => o.kind === 'response' && o.coalesced)).toEqual([false, true])
  })

  it("a response that lands when every caller has gone is let go: its body is cancelled", async () => {
    const { run, sent } = await setup()
    const controller = new AbortController()
    const calls = [run({ signal: controller.signal }), run({ signal: controller.signal })]
    await flush()
    controller.abort(new Error('all gone'))
    await Promise.all(calls)
    // A transport that answers though its signal was aborted.
    let cancelled = false
    sent[0]!.answer(response(new ReadableStream({ cancel: () => void (cancelled = true) })))
    await flush()
    expect(cancelled).toBe(true)
  })

  it(`a call joins up to the shared request's end (its total deadline and ${LOST_AFTER} ms), and leads a new one past it`, async () => {
    const timeout = normalizeTimeout({ attempt: false, total: 5_000 })
    const { run, sent, totals, clock } = await setup()
    void run({ timeout })
    clock.advance(5_000 + LOST_AFTER)
    void run({ timeout })
    await flush()
    expect([sent.length, totals.coalesced]).toEqual([1, 1])
    clock.advance(1)
    void run({ timeout })
    await flush()
    expect([sent.length, totals.coalesced]).toEqual([2, 1])
  })

  it('a lost shared request that lands late leaves the one that replaced it joinable', async () => {
    const timeout = normalizeTimeout({ attempt: false, total: 5_000 })
    const { run, sent, totals, clock } = await setup()
    const lost = run({ timeout })
    clock.advance(5_000 + LOST_AFTER + 1)
    const replacing = run({ timeout })
    await flush()
    expect(sent).toHaveLength(2)
    sent[0]!.answer(response('late'))
    expect((await lost).kind).toBe('response')
    const joined = run({ timeout })
    await flush()
    expect([sent.length, totals.coalesced]).toEqual([2, 1])
    sent[1]!.answer(response('new'))
    const outcomes = await Promise.all([replacing, joined])
    expect(await Promise.all(outcomes.map((o) => (o.kind === 'response' ? o.response.text() : o.kind)))).toEqual(['new', 'new'])
  })
})

describe('a shared request, more', () => {
  it('calls that never coalesce, in flight together, each send their own request', async () => {
    const { run, sent, totals, flights } = await setup()
    void run({ options: { coalesce: false } })
    void run({ options: { coalesce: false } })
    void run({ init: { headers: { authorization: 'Bearer t' } } })
    void run({ init: { headers: { authorization: 'Bearer t' } } })
    await flush()
    expect([sent.length, totals.coalesced, flights.size]).toEqual([4, 0, 0])
  })

  it("the shared request carries its first caller's init (headers and all) with a signal of its own, not the caller's", async () => {
    const { run, sent } = await setup()
    const caller = new AbortController()
    void run({ signal: caller.signal, init: { headers: { 'x-a': '1' }, signal: caller.signal } })
    void run({ init: { headers: { 'x-a': '1' } } })
    await flush()
    expect(sent).toHaveLength(1)
    const { call } = sent[0]!
    expect(new Headers(call.init?.headers).get('x-a')).toBe('1')
    expect(call.signal).toBeDefined()
    expect([call.init?.signal === call.signal, call.signal === caller.signal]).toEqual([true, false])
  })

  it('a joined caller whose own total deadline is reached just as the shared request is taken for lost times out, sending nothing', async () => {
    const timeout = normalizeTimeout({ attempt: false, total: 2_000 })
    const { run, sent, clock } = await setup()
    void run({ timeout })
    clock.advance(LOST_AFTER)
    // Its deadline (its start + 2 000) is the shared request's end (the first start + 2 000 + LOST_AFTER).
    const joined = run({ timeout })
    await vi.advanceTimersByTimeAsync(2_000)
    expect(await joined).toMatchObject({ kind: 'refused', error: { name: 'TimeoutError', scope: 'total', timeout: 2_000 } })
    expect(sent).toHaveLength(1)
  })

  it('outside workerd, a joined caller gets its Response with the head and reads the body as it comes', async () => {
    const { run, sent } = await setup()
    const calls = [run(), run()]
    await flush()
    let body!: ReadableStreamDefaultController<Uint8Array>
    let joined: Outcome | undefined
    void calls[1]!.then((outcome) => (joined = outcome))
    sent[0]!.answer(response(new ReadableStream({ start: (c) => void (body = c) })))
    await vi.advanceTimersByTimeAsync(0)
    // Before any of the body came (where it is handed over, in workerd, only once it all came).
    if (joined?.kind !== 'response') throw new Error(`no response yet: ${joined?.kind}`)
    const reader = joined.response.body!.getReader()
    body.enqueue(new TextEncoder().encode('first part'))
    expect(new TextDecoder().decode((await reader.read()).value)).toBe('first part')
    body.close()
    expect((await reader.read()).done).toBe(true)
  })
})

describe('a shared body read for several callers', () => {
  /** A body of `chunks` chunks of `size` bytes, each filled with its number. */
  const source = (chunks: number, size: number) => {
    let sent = 0
    return new ReadableStream<Uint8Array>({ pull: (c) => (sent++ < chunks ? c.enqueue(new Uint8Array(size).fill(sent)) : c.close()) })
  }

  it(`a reader exactly ${MAX_LAG_BYTES} bytes behind the fastest is kept (only more errors): it reads every byte`, async () => {
    const tee = new BodyTee(source(MAX_LAG_BYTES / 65_536, 65_536))
    const [fast, slow] = [tee.branch().stream, tee.branch().stream]
    expect((await new Response(fast).arrayBuffer()).byteLength).toBe(MAX_LAG_BYTES)
    expect((await new Response(slow).arrayBuffer()).byteLength).toBe(MAX_LAG_BYTES)
  })

  it('one byte more, and that reader errors while the fastest reads on', async () => {
    let sent = 0
    const body = new ReadableStream<Uint8Array>({ pull: (c) => (sent++ < 2 ? c.enqueue(new Uint8Array(sent === 1 ? MAX_LAG_BYTES : 1)) : c.close()) })
    const tee = new BodyTee(body)
    const [fast, slow] = [tee.branch().stream, tee.branch().stream]
    expect((await new Response(fast).arrayBuffer()).byteLength).toBe(MAX_LAG_BYTES + 1)
    await expect(new Response(slow).arrayBuffer()).rejects.toThrow(RangeError)
  })

  it('a body that errors errors every reader with its error', async () => {
    const failure = new TypeError('terminated')
    let sent = 0
    const tee = new BodyTee(new ReadableStream<Uint8Array>({ pull: (c) => (sent++ === 0 ? c.enqueue(new Uint8Array(4)) : c.error(failure)) }))
    const [a, b] = [tee.branch().stream, tee.branch().stream]
    expect(await Promise.all([a, b].map((stream) => new Response(stream).arrayBuffer().catch((e: unknown) => e)))).toEqual([failure, failure])
  })

  // A transport's own stream may give one (a DecompressionStream does): before, every reader then waited for good.
  it('an empty chunk of the body is skipped: every reader gets the bytes around it', async () => {
    const chunks = [new Uint8Array([1]), new Uint8Array(0), new Uint8Array([2])]
    const tee = new BodyTee(new ReadableStream<Uint8Array>({ pull: (c) => (chunks.length > 0 ? c.enqueue(chunks.shift()!) : c.close()) }))
    const [a, b] = [tee.branch().stream, tee.branch().stream]
    const read = await Promise.all([a, b].map(async (stream) => [...new Uint8Array(await new Response(stream).arrayBuffer())]))
    expect(read).toEqual([[1, 2], [1, 2]])
  })

  it("the error of a reader left too far behind says by how much and how to opt out", async () => {
    const tee = new BodyTee(new ReadableStream<Uint8Array>({ pull: (c) => c.enqueue(new Uint8Array(MAX_LAG_BYTES + 1)) }))
    const [fast, slow] = [tee.branch().stream, tee.branch().stream]
    const reader = fast.getReader()
    await reader.read()
    await expect(new Response(slow).arrayBuffer()).rejects.toThrow(`fell more than ${MAX_LAG_BYTES} bytes behind the fastest reader; read it sooner or pass resilience: { coalesce: false }`)
    await reader.cancel()
  })
})

describe("each caller's copy of a response fetch gave with a status new Response refuses", () => {
  it('keeps its Set-Cookie fields and every other header', async () => {
    const { run, sent } = await setup()
    const calls = [run(), run()]
    await flush()
    const shared = response('body')
    shared.response.headers.append('set-cookie', 'a=1')
    shared.response.headers.append('set-cookie', 'b=2')
    shared.response.headers.append('x-a', '1')
    Object.defineProperties(shared.response, { status: { value: 999 }, ok: { value: false } })
    sent[0]!.answer(shared)
    const copies = (await Promise.all(calls)).map((o) => (o.kind === 'response' ? o.response : undefined))
    expect(copies.map((r) => [r?.status, r?.headers.getSetCookie(), r?.headers.get('x-a')])).toEqual([
      [999, ['a=1', 'b=2'], '1'],
      [999, ['a=1', 'b=2'], '1'],
    ])
  })
})
