/**
 * A caller's copy of a shared body reads as fetch's own body does: a byte stream, so a BYOB reader works on it as it
 * does on fetch's (Node, Deno, Bun, workerd, Chromium, Firefox); and its bytes are its own, where I/O is per request
 * (workerd) too: one caller that writes into a chunk it read changes nothing another reads.
 */
import { createServer, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { BodyTee, coalesceStage, MAX_LAG_BYTES, type Flights } from '../src/stages/coalesce.js'
import type { Call, Outcome } from '../src/stages/types.js'
import { coalescingFetch } from './coalesce-helpers.js'
import { testCall, testRuntime } from './stages/helpers.js'

/** Reads `body` whole through a BYOB reader, `size` bytes at most per read. */
async function readByob(body: ReadableStream<Uint8Array>, size: number): Promise<Uint8Array> {
  const reader = body.getReader({ mode: 'byob' })
  const parts: Uint8Array[] = []
  for (;;) {
    const { done, value } = await reader.read(new Uint8Array(size))
    if (done) break
    parts.push(value.slice())
  }
  const whole = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0))
  let at = 0
  for (const p of parts) whole.set(p, (at += p.byteLength) - p.byteLength)
  return whole
}

function pattern(n: number): Buffer {
  const body = Buffer.alloc(n)
  for (let i = 0; i < n; i++) body[i] = (i * 31 + 7) & 0xff
  return body
}

describe('against a real server on 127.0.0.1', () => {
  let server: ReturnType<typeof createServer>
  let origin: string
  const held: ServerResponse[] = []
  let wake: (() => void) | undefined

  beforeAll(async () => {
    server = createServer((_req, res) => {
      held.push(res)
      wake?.()
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  })
  afterAll(() => {
    server.closeAllConnections()
    server.close()
  })

  it("each coalesced caller reads its copy with a BYOB reader, as fetch's own body, and gets every byte", async () => {
    const body = pattern(300_000)
    // fetch's own body is a byte stream here.
    const plain = fetch(origin)
    while (held.length < 1) await new Promise<void>((resolve) => (wake = resolve))
    held.shift()!.end(body)
    expect(Buffer.from(await readByob((await plain).body!, 4096)).equals(body)).toBe(true)

    const { rf, totals } = coalescingFetch()
    const calls = [rf(`${origin}/b`), rf(`${origin}/b`), rf(`${origin}/b`)]
    while (held.length < 1) await new Promise<void>((resolve) => (wake = resolve))
    held.shift()!.end(body)
    const [a, b, c] = await Promise.all(calls)
    expect(totals().coalesced).toBe(2)
    const read = await Promise.all([readByob(a!.body!, 1000), readByob(b!.body!, 65_536), c!.arrayBuffer().then((x) => new Uint8Array(x))])
    // Compared whole (a deep equal of 300 000 elements would take seconds).
    expect(read.map((bytes) => Buffer.from(bytes).equals(body))).toEqual([true, true, true])
    expect(held).toHaveLength(0)
  })

  it('an empty body ends a BYOB read at once', async () => {
    const { rf } = coalescingFetch()
    const calls = [rf(`${origin}/e`), rf(`${origin}/e`)]
    while (held.length < 1) await new Promise<void>((resolve) => (wake = resolve))
    held.shift()!.end()
    for (const response of await Promise.all(calls)) expect(await readByob(response.body!, 16)).toEqual(new Uint8Array(0))
  })
})

describe('a joined caller where I/O is per request (workerd)', () => {
  afterEach(() => {
    vi.unstubAllGlobals()
  })

  it("reads bytes of its own, with a BYOB reader too: another caller's writes into its chunk change nothing", async () => {
    vi.stubGlobal('navigator', { userAgent: 'Cloudflare-Workers' })
    const { runtime } = testRuntime(() => Date.now())
    const stage = (await coalesceStage(true, runtime))!
    const flights: Flights = stage.forKey!('https://a.test')
    const sent: ((outcome: Outcome) => void)[] = []
    const run = (parts: Partial<Call>) => stage.run(testCall({ at: Date.now(), waitUntil: () => {}, ...parts }), (call) => new Promise<Outcome>((answer) => sent.push(answer)), flights)
    const calls = [run({}), run({}), run({}), run({})]
    await vi.waitFor(() => expect(sent).toHaveLength(1))
    sent[0]!({ kind: 'response', response: new Response('shared bytes'), failure: false, duration: 1 })
    const [first, ...joined] = (await Promise.all(calls)).map((o) => (o.kind === 'response' ? o.response : undefined))
    expect(joined.every((r) => r !== undefined)).toBe(true)
    const chunk = (await joined[0]!.body!.getReader().read()).value!
    chunk.fill(0x21)
    expect(await joined[1]!.text()).toBe('shared bytes')
    expect(new TextDecoder().decode(await readByob(joined[2]!.body!, 5))).toBe('shared bytes')
    expect(await first!.text()).toBe('shared bytes')

    // An empty body: a BYOB read ends at once.
    const empty = [run({}), run({})]
    await vi.waitFor(() => expect(sent).toHaveLength(2))
    sent[1]!({ kind: 'response', response: new Response(''), failure: false, duration: 1 })
    const copy = (await Promise.all(empty))[1]!
    expect(copy.kind === 'response' && (await readByob(copy.response.body!, 8))).toEqual(new Uint8Array(0))
  })
})

describe('where there are no byte streams (Safari before 26.4, whose fetch bodies are none either)', () => {
  afterEach(() => {
    vi.unstubAllGlobals()
  })

  it('a copy is a plain stream, read whole by one caller, while one that reads nothing errors past the bound', async () => {
    vi.stubGlobal('ReadableByteStreamController', undefined)
    const chunk = 64 * 1024
    const chunks = MAX_LAG_BYTES / chunk + 2
    let sent = 0
    const source = new ReadableStream<Uint8Array>({ pull: (c) => (sent++ < chunks ? c.enqueue(new Uint8Array(chunk).fill(sent)) : c.close()) })
    const tee = new BodyTee(source)
    const [fast, slow] = [tee.branch().stream, tee.branch().stream]
    expect(() => fast.getReader({ mode: 'byob' })).toThrow(TypeError)
    expect((await new Response(fast).arrayBuffer()).byteLength).toBe(chunks * chunk)
    expect(await slow.getReader().read().catch((e: unknown) => e)).toBeInstanceOf(RangeError)
  })
})
