/**
 * A runtime whose `response.clone()` does as Chromium's native tee: the body it puts in the Response's place is
 * a branch from which the body the transport saw is no longer reachable. A caller that keeps only that branch's
 * reader (the Response is gone) must still end it with its abort, after GCs. The fallback (on by default) clones
 * every good GET it stores. test/e2e/abort-gc.test.ts does the same in real Chromium.
 */
import { expect, it } from 'vitest'
import { createResilientFetch } from '../src/index.js'
import type { ResilientFetchOptions } from '../src/types.js'
import { collect, expectRejectsWith, readerOnly, streamingUpstream, within } from './gc-helpers.js'

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
      await expectRejectsWith(reader.read(), reason)
      expect(await within(upstream.closed[0]!)).toEqual({ value: undefined })
    } finally {
      upstream.close()
    }
  }, 20_000)
}
