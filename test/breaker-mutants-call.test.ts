/** A call's setup (src/stages/call.ts) through the public surface: what fetch takes, the call takes too. */
import { describe, expect, it, vi } from 'vitest'
import { createResilientFetch } from '../src/index.js'

const URL_A = 'https://a.test/x'

/** A transport that answers `statuses` in turn (the last repeats), keeping each request's method and body. */
function recording(...statuses: number[]) {
  const seen: string[] = []
  const fetch = vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
    const request = new Request(input, init)
    seen.push(`${request.method} ${await request.text()}`)
    return new Response(null, { status: statuses[Math.min(seen.length - 1, statuses.length - 1)] })
  })
  return { fetch: fetch as unknown as typeof globalThis.fetch, seen }
}

describe('a Request whose body was read', () => {
  it("is sent with init's new body, as fetch sends it, on every attempt", async () => {
    const t = recording(503, 200)
    const rf = createResilientFetch({ fetch: t.fetch, fallback: false, retry: { limit: 1, backoff: { base: 1, jitter: 'none' } } })
    const read = new Request(URL_A, { method: 'PUT', body: 'old' })
    await read.text()
    // fetch itself takes it: the new body replaces the one read.
    expect(new Request(read, { body: 'new' }).bodyUsed).toBe(false)
    expect((await rf(read, { body: 'new' })).status).toBe(200)
    expect(t.seen).toEqual(['PUT new', 'PUT new'])
  })
})
