// A copy whose body fails while it is read (the connection drops mid-body) and whose caller did not abort is told as
// a storeerror carrying that failure, the request with no signal at all included; nothing is stored (#prepare in
// src/fallback.ts: only the caller's own abort is kept quiet, test/fallback-abort-stream.test.ts).
import { describe, expect, it } from 'vitest'
import { createFallback } from './fallback-helper.js'
import { memoryStore } from '../src/store/memory.js'
import type { FallbackRequest } from '../src/fallback.js'

const URL_A = 'https://api.example.com/items'

/** A 200 whose body sends one chunk, then fails with `error`. */
function failingResponse(error: Error): Response {
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(new TextEncoder().encode('{"items":'))
      controller.error(error)
    },
  })
  return new Response(body, { headers: { 'content-type': 'application/json' } })
}

describe('a copy whose body fails while read', () => {
  it.each<[string, FallbackRequest]>([
    ['a request with no signal', { url: URL_A, headers: new Headers() }],
    ['a request whose signal did not abort', { url: URL_A, headers: new Headers(), signal: new AbortController().signal }],
  ])('%s: told as a storeerror with that failure; nothing is stored', async (_name, request) => {
    const errors: { key: string; error: unknown }[] = []
    const fallback = createFallback({ store: memoryStore(), maxAge: 60_000, maxBodyBytes: 1_000, private: false }, (_type, detail) => errors.push(detail))
    const reset = new Error('connection reset')
    const work: Promise<unknown>[] = []
    fallback.remember(request, failingResponse(reset), (p) => work.push(p))
    await Promise.all(work)
    expect(errors).toEqual([{ key: 'https://api.example.com', error: reset }])
    expect(await fallback.recall({ url: URL_A, headers: new Headers() })).toBeUndefined()
  })
})
