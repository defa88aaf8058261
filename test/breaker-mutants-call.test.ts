/** A call's setup (src/stages/call.ts) through the public surface: what fetch takes, the call takes too. */
import { describe, expect, it, vi } from 'vitest'
import { CircuitOpenError, createResilientFetch } from '../src/index.js'
import { controlledTransport, flush } from './helpers.js'

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

describe('an init', () => {
  it('with inherited members and its own resilience is read whole, as fetch reads it', async () => {
    const t = recording(200)
    const rf = createResilientFetch({ fetch: t.fetch, fallback: false })
    const init = Object.assign(Object.create({ method: 'PUT', body: 'inherited' }) as RequestInit, { resilience: { retry: false as const } })
    expect((await rf(URL_A, init)).status).toBe(200)
    expect(t.seen).toEqual(['PUT inherited'])
  })

  it('without resilience reaches the transport as the caller gave it: no copy per call', async () => {
    const given: RequestInit[] = []
    const rf = createResilientFetch({ fetch: async (_input, init) => (given.push(init!), new Response(null)), fallback: false, timeout: false })
    const init = { method: 'POST', body: 'x' }
    await rf(URL_A, init)
    expect(given[0]).toBe(init)
  })

  it('whose signal is already aborted rejects with its reason and sends nothing', async () => {
    const t = recording(200)
    const rf = createResilientFetch({ fetch: t.fetch, fallback: false })
    const reason = new Error('gone')
    await expect(rf(URL_A, { signal: AbortSignal.abort(reason) })).rejects.toBe(reason)
    expect(t.seen).toEqual([])
    expect(rf.snapshot().totals).toMatchObject({ requests: 0, successes: 0, failures: 0, rejected: 0 })
  })
})

describe('a GET whose breaker is open', () => {
  it('is refused at once, not queued behind a full bulkhead first', async () => {
    const c = controlledTransport()
    const rf = createResilientFetch({ fetch: c.fetch, retry: false, timeout: false, bulkhead: { maxConcurrent: 1, maxQueue: 5 } })
    const first = rf('https://a.test/1')
    await flush()
    rf.breaker('https://a.test')!.open(10_000)
    let settled: unknown = 'pending'
    rf('https://a.test/2').catch((error: unknown) => (settled = error))
    // Coalescing, which answers a GET's refusals, loads as a chunk: the refusal comes after it, while the first call still holds the permit.
    await vi.waitFor(() => expect(settled).toBeInstanceOf(CircuitOpenError))
    expect(rf.snapshot().bulkheads[0]).toMatchObject({ active: 1, queued: 0 })
    c.pending[0]!.respond(200)
    expect((await first).status).toBe(200)
  })
})
