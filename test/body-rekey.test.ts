/**
 * A runtime whose `response.clone()` does as Chromium's native tee: the body it puts in the Response's place is
 * a branch from which the body the transport saw is no longer reachable. A caller that keeps only that branch's
 * reader (the Response is gone) must still end it with its abort, after GCs. The fallback (on by default) clones
 * every good GET it stores. test/e2e/abort-gc.test.ts does the same in real Chromium.
 */
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import v8 from 'node:v8'
import vm from 'node:vm'
import { expect, it } from 'vitest'
import { createResilientFetch } from '../src/index.js'
import type { ResilientFetchOptions } from '../src/types.js'

v8.setFlagsFromString('--expose-gc')
const gc = vm.runInNewContext('gc') as () => void

/** A Response's body stream, as this runtime's types have it. */
type Body = NonNullable<Response['body']>

/** The body streams a Response handed out before a clone replaced them: to see that they really went. */
const replaced: WeakRef<ReadableStream>[] = []

/**
 * A Response whose `body` is a stream of its own over the bytes (`source`), which references nothing back;
 * `clone()` tees the bytes and puts a new such stream in place of the body, so the previous one is unreachable.
 */
class NativeTeeResponse extends Response {
  #source: Body
  #body: Body

  constructor(source: Body, init: ResponseInit) {
    super(null, init)
    this.#source = source
    this.#body = over(source)
  }

  override get body(): Body {
    return this.#body
  }

  override clone(): Response {
    const [mine, theirs] = this.#source.tee()
    replaced.push(new WeakRef(this.#body))
    this.#source = mine
    this.#body = over(mine)
    return new NativeTeeResponse(theirs, { status: this.status, statusText: this.statusText, headers: this.headers })
  }
}

/** A stream that reads `source` when asked (so `source` stays unlocked until then, for a later tee). */
function over(source: Body): Body {
  let reader: ReadableStreamDefaultReader<Uint8Array<ArrayBuffer>> | undefined
  return new ReadableStream(
    {
      async pull(controller) {
        const { done, value } = await (reader ??= source.getReader()).read()
        if (done) controller.close()
        else controller.enqueue(value)
      },
      cancel: (reason) => (reader ?? source).cancel(reason),
    },
    { highWaterMark: 0 },
  )
}

/** The transport of such a runtime: fetch, its answer as a NativeTeeResponse. */
const nativeTeeFetch: typeof fetch = async (input, init) => {
  const response = await fetch(input, init)
  return new NativeTeeResponse(response.body!, { status: response.status, statusText: response.statusText, headers: response.headers })
}

/** Full garbage collections, with turns of the event loop between them for weak cells. */
async function collect(): Promise<void> {
  for (let i = 0; i < 5; i++) {
    gc()
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

/** How `promise` stands after at most `ms`: its value, its error, or still pending. */
function within(promise: Promise<unknown>, ms = 2_000): Promise<{ value: unknown } | { error: unknown } | 'pending'> {
  const late = new Promise<'pending'>((resolve) => setTimeout(resolve, ms, 'pending'))
  return Promise.race([promise.then((value) => ({ value }), (error: unknown) => ({ error })), late])
}

/** An upstream that answers a 200 the fallback may store, sends one chunk and never ends; with its connections' closes. */
async function streamingUpstream(): Promise<{ url: string; closed: Promise<void>[]; close: () => void }> {
  const closed: Promise<void>[] = []
  const server = createServer((req, res) => {
    closed.push(new Promise((resolve) => req.socket.once('close', () => resolve())))
    res.writeHead(200, { 'cache-control': 'max-age=60' })
    res.write('first')
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const close = () => {
    server.closeAllConnections()
    server.close()
  }
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, closed, close }
}

/** The caller keeps only the body's reader: the Response is unreachable once this returns. */
async function readerOnly(f: typeof fetch, url: string, signal: AbortSignal) {
  const response = await f(url, { signal })
  const reader = response.body!.getReader()
  await reader.read()
  return { reader, response: new WeakRef(response) }
}

const CASES: [string, ResilientFetchOptions][] = [
  ['the default options', {}],
  ['a hedged call', { hedge: { delay: 5_000 } }],
  // Here the caller's own controller keeps the Response (see test/signal-leak.test.ts): covered either way.
  ['a coalesced call', { coalesce: true }],
]

for (const [name, options] of CASES) {
  it(`${name}, fallback on, where clone() drops the first body: after GCs the caller's abort still ends the reader it kept, and closes the connection`, async () => {
    const upstream = await streamingUpstream()
    try {
      const rf = createResilientFetch({ ...options, fetch: nativeTeeFetch })
      const controller = new AbortController()
      const kept = replaced.length
      const { reader, response } = await readerOnly(rf, upstream.url, controller.signal)
      await collect()
      // The fallback cloned it, and the body the transport saw is gone: the case this covers.
      expect(replaced.length).toBeGreaterThan(kept)
      expect(replaced.slice(kept).every((ref) => ref.deref() === undefined)).toBe(true)
      if (!('coalesce' in options)) expect(response.deref()).toBeUndefined()
      const reason = new Error('left the page')
      controller.abort(reason)
      const settled = await within(reader.read())
      expect(settled).toEqual({ error: reason })
      expect((settled as { error: unknown }).error).toBe(reason)
      expect(await within(upstream.closed[0]!)).toEqual({ value: undefined })
    } finally {
      upstream.close()
    }
  }, 20_000)
}
