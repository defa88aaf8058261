import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { createResilientFetch } from '../src/index.js'

beforeEach(() => {
  vi.useFakeTimers({ now: 1_780_000_000_000 })
})
afterEach(() => {
  vi.useRealTimers()
})

describe('a URL object as input is a URL, as fetch takes it, not a Request', () => {
  it('is fetched at its href, keyed by its origin, and its failure counts on that key', async () => {
    const fetch = vi.fn(async (_input: RequestInfo | URL, _init?: RequestInit) => new Response('x', { status: 503 }))
    const rf = createResilientFetch({ fetch, retry: false, fallback: false, timeout: false, breaker: { failureThreshold: 1 } })
    const url = new URL('https://a.test/x?q=1')
    expect((await rf(url)).status).toBe(503)
    expect(fetch).toHaveBeenCalledTimes(1)
    expect(String(fetch.mock.calls[0]![0])).toBe('https://a.test/x?q=1')
    expect(rf.breaker('https://a.test')?.state).toBe('open')
    expect(rf.snapshot().bulkheads.map((b) => b.key)).toEqual(['https://a.test'])
  })

  it('with an init, is sent with the init (method, headers, body)', async () => {
    const fetch = vi.fn(async (_input: RequestInfo | URL, _init?: RequestInit) => new Response('ok'))
    const rf = createResilientFetch({ fetch, retry: false, fallback: false, timeout: false })
    expect((await rf(new URL('https://a.test/y'), { method: 'POST', headers: { 'x-a': '1' }, body: 'hi' })).status).toBe(200)
    const [input, init] = fetch.mock.calls[0]!
    expect(String(input)).toBe('https://a.test/y')
    const sent = new Request(input, init)
    expect(sent.method).toBe('POST')
    expect(sent.headers.get('x-a')).toBe('1')
    expect(await sent.text()).toBe('hi')
  })
})
