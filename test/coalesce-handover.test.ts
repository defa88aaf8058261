/**
 * Coalescing where a request's I/O objects are its own (workerd: navigator.userAgent 'Cloudflare-Workers'): only a
 * request whose first caller gave a waitUntil is joined (it keeps the request past that caller's answer); a joined
 * caller gets the shared body's bytes, read where the body arrived, and builds its own Response; when they do not
 * come (too large, or no more for IDLE_AFTER) it sends its own request. Fake transport and fake time; the real
 * workerd runs are in test/e2e/workerd-coalesce.test.ts.
 */
import { describe, expect, it, vi } from 'vitest'
import { normalizeTimeout } from '../src/options.js'
import { coalesceStage, KEPT_AFTER_ANSWER, MAX_LAG_BYTES, type Flights } from '../src/stages/coalesce.js'
import { IDLE_AFTER } from '../src/stages/handover.js'
import type { Call, Outcome } from '../src/stages/types.js'
import { LOST_AFTER } from '../src/core.js'
import { testCall as anyCall, testRuntime } from './stages/helpers.js'
import { inWorkerdWithFakeTime } from './coalesce-helpers.js'

inWorkerdWithFakeTime()

const settle = () => vi.advanceTimersByTimeAsync(0)

/** A body the test writes as it likes. */
function controlledBody() {
  let controller!: ReadableStreamDefaultController<Uint8Array>
  const stream = new ReadableStream<Uint8Array>({ start: (c) => void (controller = c) })
  return { stream, write: (text: string) => controller.enqueue(new TextEncoder().encode(text)), end: () => controller.close() }
}

/** The stage with a fake transport: each request it sends waits until the test answers it. */
async function setup() {
  const { runtime, totals } = setupRuntime()
  // Where I/O is per request, the stage comes once the handover chunk has loaded too.
  const stage = (await coalesceStage(true, runtime))!
  const flights: Flights = stage.forKey!('https://a.test')
  const sent: { call: Call; answer: (outcome: Outcome) => void }[] = []
  const next = (call: Call) => new Promise<Outcome>((answer) => sent.push({ call, answer }))
  const run = (call: Call) => stage.run(call, next, flights)
  return { run, sent, totals, flights }
}

/** A call made now (a flight lasts from its first call's start). */
const testCall = (parts: Partial<Call> = {}) => anyCall({ at: Date.now(), ...parts })

function setupRuntime() {
  return testRuntime(() => Date.now())
}

/** A call whose waitUntil keeps what it starts (a Worker's ctx.waitUntil): only such a call's request is joined. */
const keptCall = (parts: Partial<Call> = {}) => testCall({ waitUntil: () => {}, ...parts })

const response = (body: BodyInit | null, init?: ResponseInit): Outcome => ({ kind: 'response', response: new Response(body, init), failure: false, duration: 5 })

describe('a joined caller where I/O is per request', () => {
  it("builds its own Response of the shared body's bytes, with the head; the first caller reads its copy", async () => {
    const { run, sent, totals } = await setup()
    const kept: Promise<unknown>[] = []
    const first = run(testCall({ waitUntil: (p) => void kept.push(p) }))
    const second = run(keptCall())
    await settle()
    expect(sent).toHaveLength(1)
    expect(totals.coalesced).toBe(1)
    const body = controlledBody()
    const shared = response(body.stream, { status: 203, statusText: 'Partial', headers: { 'content-type': 'text/plain', 'x-a': '1' } })
    // As fetch's response after a redirect.
    if (shared.kind === 'response') Object.defineProperties(shared.response, { url: { value: 'https://a.test/y' }, redirected: { value: true } })
    sent[0]!.answer(shared)
    const leader = await first
    expect(leader.kind).toBe('response')
    body.write('hello, ')
    body.write('world')
    body.end()
    const joined = await second
    if (joined.kind !== 'response' || leader.kind !== 'response') throw new Error('no response')
    expect(joined.coalesced).toBe(true)
    expect(joined.duration).toBe(5)
    expect([joined.response.status, joined.response.statusText, joined.response.headers.get('x-a')]).toEqual([203, 'Partial', '1'])
    expect([joined.response.url, joined.response.redirected]).toEqual(['https://a.test/y', true])
    expect(await joined.response.text()).toBe('hello, world')
    expect(await leader.response.text()).toBe('hello, world')
    // The first caller's waitUntil was given the shared request, then the read of the bytes (its request lives until they are in).
    expect(kept).toHaveLength(2)
    expect(await kept[1]).toEqual(new TextEncoder().encode('hello, world'))
  })

  it('gets the bytes when the first caller left before the headers, and a null body stays null', async () => {
    const { run, sent } = await setup()
    const controller = new AbortController()
    const first = run(keptCall({ signal: controller.signal }))
    const second = run(keptCall())
    const third = run(keptCall())
    await settle()
    controller.abort(new Error('gone'))
    expect((await first).kind).toBe('aborted')
    sent[0]!.answer(response('shared'))
    const [a, b] = await Promise.all([second, third])
    if (a.kind !== 'response' || b.kind !== 'response') throw new Error('no response')
    expect([await a.response.text(), await b.response.text()]).toEqual(['shared', 'shared'])

    const fourth = run(keptCall())
    const fifth = run(keptCall())
    await settle()
    sent[1]!.answer(response(null, { status: 204 }))
    await fourth
    const empty = await fifth
    if (empty.kind !== 'response') throw new Error('no response')
    expect([empty.response.status, empty.response.body]).toEqual([204, null])
    expect(sent).toHaveLength(2)
  })

  it('copies a body of exactly half MAX_LAG_BYTES (Content-Length, or as read)', async () => {
    const { run, sent } = await setup()
    const size = MAX_LAG_BYTES / 2
    for (const headers of [{ 'content-length': String(size) }, undefined]) {
      const first = run(keptCall())
      const second = run(keptCall())
      await settle()
      sent.at(-1)!.answer(response(new Uint8Array(size), { headers }))
      await first
      const joined = await second
      if (joined.kind !== 'response') throw new Error('no response')
      expect([(await joined.response.arrayBuffer()).byteLength, joined.coalesced]).toEqual([size, true])
    }
    expect(sent).toHaveLength(2)
  })

  it('reads the whole body when its Content-Length is not a number', async () => {
    const { run, sent } = await setup()
    const first = run(keptCall())
    const second = run(keptCall())
    await settle()
    sent[0]!.answer(response('the body', { headers: { 'content-length': 'many' } }))
    await first
    const joined = await second
    if (joined.kind !== 'response') throw new Error('no response')
    expect(await joined.response.text()).toBe('the body')
    expect(sent).toHaveLength(1)
  })

  it('sends its own request for a body larger than half MAX_LAG_BYTES (Content-Length, or as read); the first caller reads it all', async () => {
    const { run, sent } = await setup()
    const size = MAX_LAG_BYTES / 2 + 1
    for (const headers of [{ 'content-length': String(size) }, undefined]) {
      const before = sent.length
      const first = run(keptCall())
      const second = run(keptCall())
      await settle()
      const body = controlledBody()
      sent[before]!.answer(response(body.stream, { headers }))
      // In chunks, as a network gives them: the read for the joined caller stops past the half, far from cutting the first caller's copy.
      for (let i = 0; i < size; i += 64 * 1024) body.write('y'.repeat(Math.min(64 * 1024, size - i)))
      body.end()
      const leader = await first
      await settle()
      expect(sent).toHaveLength(before + 2)
      sent[before + 1]!.answer(response('its own'))
      const own = await second
      if (own.kind !== 'response' || leader.kind !== 'response') throw new Error('no response')
      expect(own.coalesced).toBeUndefined()
      expect(await own.response.text()).toBe('its own')
      expect((await leader.response.text()).length).toBe(size)
    }
  })

  it('sends its own request when no more of the body comes for IDLE_AFTER (the first request may have ended)', async () => {
    const { run, sent } = await setup()
    const first = run(keptCall())
    const second = run(keptCall())
    await settle()
    const body = controlledBody()
    sent[0]!.answer(response(body.stream))
    await first
    await vi.advanceTimersByTimeAsync(IDLE_AFTER - 10)
    body.write('more')
    // More came: the wait starts again from there.
    await vi.advanceTimersByTimeAsync(IDLE_AFTER - 10)
    expect(sent).toHaveLength(1)
    await vi.advanceTimersByTimeAsync(10)
    expect(sent).toHaveLength(2)
    sent[1]!.answer(response('its own'))
    const own = await second
    if (own.kind !== 'response') throw new Error('no response')
    expect(await own.response.text()).toBe('its own')
    expect(vi.getTimerCount()).toBe(0)
  })

  it('ends with its abort while it waits for the bytes, sending nothing and leaving no timer', async () => {
    const { run, sent } = await setup()
    const controller = new AbortController()
    const first = run(keptCall())
    const second = run(keptCall({ signal: controller.signal }))
    await settle()
    const body = controlledBody()
    sent[0]!.answer(response(body.stream))
    await first
    const reason = new Error('left')
    controller.abort(reason)
    expect(await second).toEqual({ kind: 'aborted', reason })
    // And when it left while the parcel was on its way (the chunk loading).
    const third = run(keptCall())
    const other = new AbortController()
    const fourth = run(keptCall({ signal: other.signal }))
    await settle()
    sent[1]!.answer(response(controlledBody().stream))
    other.abort(reason)
    await third
    expect(await fourth).toEqual({ kind: 'aborted', reason })
    expect(sent).toHaveLength(2)
    expect(vi.getTimerCount()).toBe(0)
  })

  it('an abort after its Response errors the body it has not read', async () => {
    const { run, sent } = await setup()
    const controller = new AbortController()
    const first = run(keptCall())
    const second = run(keptCall({ signal: controller.signal }))
    await settle()
    sent[0]!.answer(response('shared'))
    await first
    const joined = await second
    if (joined.kind !== 'response') throw new Error('no response')
    const reason = new Error('left')
    controller.abort(reason)
    await expect(joined.response.text()).rejects.toBe(reason)
  })
})

describe("a joined caller's Response where I/O is per request is the one fetch gave", () => {
  /** The first and a joined caller of one shared request answered with `shared`: both outcomes, settled or not, once pending work ran. */
  async function pair(shared: Outcome) {
    const { run, sent } = await setup()
    const outcomes: (Outcome | undefined)[] = [undefined, undefined]
    const calls = [run(keptCall()), run(keptCall())]
    calls.forEach((call, i) => void call.then((outcome) => (outcomes[i] = outcome)))
    await settle()
    sent[0]!.answer(shared)
    await settle()
    expect(sent).toHaveLength(1)
    return outcomes
  }

  const responses = (outcomes: (Outcome | undefined)[]) =>
    outcomes.map((outcome) => {
      if (outcome?.kind !== 'response') throw new Error(`no response: ${outcome?.kind ?? 'still waiting'}`)
      return outcome.response
    })

  // fetch takes a status up to 999 and decodes a reason phrase as UTF-8 (a Latin-1 'Ü' is U+FFFD): new Response refuses both (workerd the first).
  it.each([
    [999, 'Custom'],
    [200, '\ufffdnicode'],
  ])('a status %i with the reason phrase %j, body and all', async (status, statusText) => {
    const shared = response('body')
    if (shared.kind === 'response') Object.defineProperties(shared.response, { status: { value: status }, statusText: { value: statusText }, ok: { value: status === 200 } })
    const [leader, joined] = responses(await pair(shared))
    const head = (r: Response) => [r.status, r.statusText, r.ok]
    expect([head(leader!), head(joined!)]).toEqual([
      [status, statusText, status === 200],
      [status, statusText, status === 200],
    ])
    expect([await leader!.text(), await joined!.text()]).toEqual(['body', 'body'])
  })

  it("its headers read as the shared response's (a repeated field's empty last value: 'x, ')", async () => {
    const shared = response('body')
    if (shared.kind !== 'response') throw new Error('no response')
    // As fetch combines repeated fields: X-A: x and X-A: (empty); X-D twice empty; Set-Cookie twice.
    for (const [name, value] of [['x-a', 'x'], ['x-a', ''], ['x-d', ''], ['x-d', ''], ['set-cookie', 'a=1'], ['set-cookie', 'b=2']]) shared.response.headers.append(name!, value!)
    const original = [...shared.response.headers]
    expect(shared.response.headers.get('x-a')).toBe('x, ')
    const copies = responses(await pair(shared))
    expect(copies.map((r) => [...r.headers])).toEqual([original, original])
    expect(copies.map((r) => r.headers.getSetCookie())).toEqual([
      ['a=1', 'b=2'],
      ['a=1', 'b=2'],
    ])
  })

  it("its type is fetch's", async () => {
    const shared = response('body')
    if (shared.kind === 'response') Object.defineProperty(shared.response, 'type', { value: 'basic' })
    expect(responses(await pair(shared)).map((r) => r.type)).toEqual(['basic', 'basic'])
  })

  it('a response no copy can be made of answers every caller with the error (none waits for good) and cancels its body', async () => {
    // A transport of the user's own may answer with a Response-like whose headers read but cannot build a new Response.
    let cancelled = false
    const body = new ReadableStream({ cancel: () => void (cancelled = true) })
    const headers = { get: () => null, has: () => false, [Symbol.iterator]: () => { throw new TypeError('these headers cannot be copied') } }
    const shared = response(body)
    if (shared.kind === 'response') Object.defineProperty(shared.response, 'headers', { value: headers })
    const outcomes = await pair(shared)
    expect(outcomes.map((o) => [o?.kind, o?.kind === 'refused' && (o.error as Error).message])).toEqual([
      ['refused', 'these headers cannot be copied'],
      ['refused', 'these headers cannot be copied'],
    ])
    expect(cancelled).toBe(true)
    expect(vi.getTimerCount()).toBe(0)
  })
})

describe('which shared request a caller joins where I/O is per request', () => {
  /** Whether `promise` has settled yet. */
  const watch = (promise: Promise<unknown>) => {
    const state = { settled: false }
    void promise.then(() => (state.settled = true))
    return state
  }

  it("joins none whose first caller gave no waitUntil (workerd drops it once that caller's handler answers): it sends its own at once", async () => {
    const { run, sent, totals } = await setup()
    const unkept = run(testCall())
    const other = run(testCall())
    await settle()
    // Before, the second joined: a fire-and-forget first call left it waiting until its own deadline for nothing.
    expect([sent.length, totals.coalesced]).toEqual([2, 0])
    sent[0]!.answer(response('first'))
    sent[1]!.answer(response('second'))
    const [a, b] = await Promise.all([unkept, other])
    if (a.kind !== 'response' || b.kind !== 'response') throw new Error('no response')
    expect([await a.response.text(), await b.response.text(), b.coalesced]).toEqual(['first', 'second', undefined])
    // A caller with a waitUntil leads one that the next caller (with none of its own) joins.
    const kept = run(keptCall())
    const joined = run(testCall())
    await settle()
    expect([sent.length, totals.coalesced]).toEqual([3, 1])
    sent[2]!.answer(response('shared'))
    await kept
    const last = await joined
    if (last.kind !== 'response') throw new Error('no response')
    expect([await last.response.text(), last.coalesced]).toEqual(['shared', true])
  })

  it("gives the shared request to its first caller's waitUntil until it lands, then the read of the bytes for the joined", async () => {
    const { run, sent } = await setup()
    const kept: Promise<unknown>[] = []
    const first = run(testCall({ waitUntil: (p) => void kept.push(p) }))
    // At once: that caller's handler may answer before the headers come (fire and forget).
    expect(kept).toHaveLength(1)
    const flight = watch(kept[0]!)
    const second = run(testCall())
    await vi.advanceTimersByTimeAsync(5_000)
    expect(flight.settled).toBe(false)
    const body = controlledBody()
    sent[0]!.answer(response(body.stream))
    await first
    body.write('late body')
    body.end()
    const joined = await second
    if (joined.kind !== 'response') throw new Error('no response')
    expect(await joined.response.text()).toBe('late body')
    expect(flight.settled).toBe(true)
    expect(kept).toHaveLength(2)
    expect(sent).toHaveLength(1)
  })

  it("gives the read of the bytes to the first caller's waitUntil though that caller left before the headers", async () => {
    const { run, sent } = await setup()
    const kept: Promise<unknown>[] = []
    const controller = new AbortController()
    const first = run(testCall({ signal: controller.signal, waitUntil: (p) => void kept.push(p) }))
    const second = run(testCall())
    await settle()
    controller.abort(new Error('gone'))
    expect((await first).kind).toBe('aborted')
    sent[0]!.answer(response('for the joined'))
    const joined = await second
    if (joined.kind !== 'response') throw new Error('no response')
    expect(await joined.response.text()).toBe('for the joined')
    // Before, the read went to the waitUntil of the first caller still there: none, so nothing kept that request.
    expect(kept).toHaveLength(2)
    expect(await kept[1]).toEqual(new TextEncoder().encode('for the joined'))
  })

  // workerd keeps a request's waitUntil work 30 s past its answer, which came after the first call began: a shared request
  // out longer may be gone. Before, a joined caller waited to its own deadline (past 30 s), or for ever with none (then
  // workerd cancelled its request as hung).
  it.each([
    ['a total deadline past 30 s', normalizeTimeout({ attempt: false, total: 60_000 })],
    ['no deadline', normalizeTimeout(false)],
  ])('with %s, a joined caller sends its own request once the shared one is 30 s (and LOST_AFTER) old, and nobody joins it after', async (_, timeout) => {
    const { run, sent, totals } = await setup()
    const first = run(keptCall({ timeout }))
    const second = run(testCall({ timeout }))
    await vi.advanceTimersByTimeAsync(KEPT_AFTER_ANSWER + LOST_AFTER - 1)
    expect([sent.length, totals.coalesced]).toEqual([1, 1])
    await vi.advanceTimersByTimeAsync(1)
    expect(sent).toHaveLength(2)
    await vi.advanceTimersByTimeAsync(1)
    const third = run(keptCall({ timeout }))
    await settle()
    expect([sent.length, totals.coalesced]).toEqual([3, 1])
    sent[1]!.answer(response('own'))
    const joined = await second
    if (joined.kind !== 'response') throw new Error(`no response: ${joined.kind}`)
    expect([await joined.response.text(), joined.coalesced]).toEqual(['own', undefined])
    sent[0]!.answer(response('late'))
    sent[2]!.answer(response('third'))
    expect((await first).kind).toBe('response')
    expect((await third).kind).toBe('response')
  })

  it('elsewhere (Node, Deno, Bun, browsers) joins a request whose first caller gave no waitUntil, and gives a waitUntil nothing', async () => {
    vi.unstubAllGlobals()
    const { run, sent, totals } = await setup()
    const kept: Promise<unknown>[] = []
    const first = run(testCall({ waitUntil: (p) => void kept.push(p) }))
    const second = run(testCall())
    await settle()
    expect([sent.length, totals.coalesced]).toEqual([1, 1])
    sent[0]!.answer(response('shared'))
    const outcomes = await Promise.all([first, second])
    expect(await Promise.all(outcomes.map((o) => (o.kind === 'response' ? o.response.text() : o.kind)))).toEqual(['shared', 'shared'])
    expect(kept).toHaveLength(0)
  })
})
