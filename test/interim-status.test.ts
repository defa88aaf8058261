/**
 * An interim status as the final answer. workerd's fetch takes an upstream's 100 Continue, 102 Processing or
 * 103 Early Hints for the final response (the real status line is left in the body): the default failure rule
 * counts such a status as a failure, so the breaker, the fallback and the events see the upstream's trouble,
 * while the caller still gets the Response fetch gave. 101 (a WebSocket upgrade in workerd) and 0 (a browser's
 * opaque response or opaque redirect) are answers, never failures.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { createResilientFetch, memoryStore, resilienceInfo } from '../src/index.js'
import { isFailureDefault, isFailureStatus } from '../src/classify.js'

const URL_A = 'https://a.test/data'

beforeEach(() => {
  vi.useFakeTimers({ now: 1_000_000 })
})
afterEach(() => {
  vi.useRealTimers()
})

/** A Response with a status the constructor refuses (below 200), as workerd's fetch resolves with one. */
function withStatus(status: number, body = 'HTTP/1.1 502 Bad Gateway\r\ncontent-length: 4\r\n\r\ndown'): Response {
  const response = new Response(body, { status: 502 })
  Object.defineProperty(response, 'status', { value: status })
  return response
}

/** Answers 200 first when `good`, then `status` on every call. */
function transport(status: number, good = false) {
  let n = 0
  const fetch = vi.fn(async () => (good && n++ === 0 ? new Response('{"good":true}', { status: 200 }) : withStatus(status)))
  return { fetch: fetch as unknown as typeof globalThis.fetch, mock: fetch }
}

describe('an interim status taken for the final answer', () => {
  it('the default rule: a status below 200 is a failure, except 0 (opaque) and 101 (Switching Protocols)', () => {
    for (const status of [100, 102, 103, 150, 199]) expect(isFailureStatus(status), `status ${status}`).toBe(true)
    for (const status of [0, 101, 200]) expect(isFailureStatus(status), `status ${status}`).toBe(false)
    expect(isFailureDefault({ response: withStatus(103), duration: 1 })).toBe(true)
    expect(isFailureDefault({ response: withStatus(101), duration: 1 })).toBe(false)
  })

  it('100, 102 and 103 are failures to an instance, 101 and 0 successes; the caller gets the Response fetch gave', async () => {
    for (const [status, type] of [[100, 'failure'], [102, 'failure'], [103, 'failure'], [101, 'success'], [0, 'success']] as const) {
      const rf = createResilientFetch({ fetch: transport(status).fetch, retry: false, fallback: false, timeout: false })
      const seen: string[] = []
      rf.addEventListener('failure', (event) => seen.push(`failure ${event.detail.status}`))
      rf.addEventListener('success', (event) => seen.push(`success ${event.detail.status}`))
      const response = await rf(URL_A)
      expect(response.status).toBe(status)
      expect(seen).toEqual([`${type} ${status}`])
    }
  })

  it('103s count toward the breaker: enough of them open it, and the next call is refused', async () => {
    const t = transport(103)
    const rf = createResilientFetch({ fetch: t.fetch, retry: false, fallback: false, timeout: false, breaker: { window: 'consecutive', failureThreshold: 3 } })
    for (let i = 0; i < 3; i++) expect((await rf(URL_A)).status).toBe(103)
    expect(rf.breaker('https://a.test')?.state).toBe('open')
    expect(rf.snapshot().breakers[0]).toMatchObject({ failures: 3 })
    await expect(rf(URL_A)).rejects.toMatchObject({ name: 'CircuitOpenError' })
    expect(t.mock).toHaveBeenCalledTimes(3)
  })

  it('a 103 is answered by the last good copy, as a 502 is', async () => {
    const store = memoryStore()
    const rf = createResilientFetch({ fetch: transport(103, true).fetch, retry: false, timeout: false, fallback: { store } })
    const fallbacks: number[] = []
    rf.addEventListener('fallback', (event) => fallbacks.push(event.detail.age))
    expect(await (await rf(URL_A)).json()).toEqual({ good: true })
    await vi.waitFor(async () => expect(await store.get(`GET ${URL_A}`)).toBeDefined())
    const response = await rf(URL_A)
    expect(response.status).toBe(200)
    expect(response.headers.get('x-resilient-source')).toBe('fallback')
    expect(resilienceInfo(response)?.source).toBe('fallback')
    expect(await response.json()).toEqual({ good: true })
    expect(fallbacks).toEqual([0])
  })

  it('a call with its own isFailure keeps its own rule', async () => {
    const rf = createResilientFetch({ fetch: transport(103).fetch, retry: false, fallback: false, timeout: false, isFailure: ({ response }) => response === undefined || response.status >= 500 })
    const seen: string[] = []
    rf.addEventListener('failure', () => seen.push('failure'))
    rf.addEventListener('success', () => seen.push('success'))
    expect((await rf(URL_A)).status).toBe(103)
    expect(seen).toEqual(['success'])
  })
})
