import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { TimeoutError, createResilientFetch } from '../src/index.js'
import { controlledTransport, flush } from './helpers.js'

/**
 * A navigation request, as a Service Worker's fetch event holds it (mode 'navigate', redirect 'manual'). Node's Request
 * constructor refuses mode 'navigate': the mode is set on the instance.
 */
function navigation(url = 'https://a.test/page'): Request {
  return Object.defineProperty(new Request(url, { redirect: 'manual' }), 'mode', { value: 'navigate' })
}

beforeEach(() => {
  vi.useFakeTimers({ now: 1_000_000 })
})
afterEach(() => {
  vi.useRealTimers()
})

describe('a navigation (a Service Worker passing on event.request)', () => {
  it('is sent as it is, with no init (any init makes fetch reset its mode and another site\'s referrer), when the caller gave none or only resilience', async () => {
    const c = controlledTransport()
    const rf = createResilientFetch({ fetch: c.fetch, fallback: false, retry: false })
    const requests = [navigation(), navigation()]
    const calls = [rf(requests[0]!), rf(requests[1]!, { resilience: { timeout: 5_000 } })]
    await flush()
    expect(c.mock.mock.calls).toEqual([[requests[0]], [requests[1]]])
    for (const sent of c.pending.splice(0)) sent.respond(200)
    expect((await Promise.all(calls)).map((r) => r.status)).toEqual([200, 200])
  })

  it("with an init of the caller's, goes with it as fetch(request, init) would (and our signal)", async () => {
    const c = controlledTransport()
    const rf = createResilientFetch({ fetch: c.fetch, fallback: false, retry: false })
    const call = rf(navigation(), { headers: { 'x-a': '1' } })
    await flush()
    expect(c.pending[0]!.init).toMatchObject({ headers: { 'x-a': '1' }, signal: expect.any(AbortSignal) })
    c.pending[0]!.respond(200)
    expect((await call).status).toBe(200)
  })

  it('still ends at its attempt deadline (TimeoutError), though the request it sent is not aborted; a response after it is cancelled', async () => {
    const c = controlledTransport()
    const rf = createResilientFetch({ fetch: c.fetch, fallback: false, retry: false, timeout: { attempt: 100 } })
    const timeouts: string[] = []
    rf.addEventListener('timeout', (event) => timeouts.push(`${event.detail.scope}:${event.detail.timeout}`))
    const call = rf(navigation()).catch((error: unknown) => error)
    await flush()
    vi.advanceTimersByTime(100)
    expect(await call).toBeInstanceOf(TimeoutError)
    expect(await call).toMatchObject({ scope: 'attempt', timeout: 100 })
    expect(timeouts).toEqual(['attempt:100'])
    // The request had no signal of ours: it is still out, and its late response is not left unread.
    const cancel = vi.fn()
    c.pending[0]!.respond(200, undefined, new ReadableStream({ cancel }))
    await flush()
    expect(cancel).toHaveBeenCalledOnce()
  })

  it('a late response with no body (a 204, an opaque redirect) after its deadline is let go without an error nobody handles', async () => {
    const c = controlledTransport()
    const rf = createResilientFetch({ fetch: c.fetch, fallback: false, retry: false, timeout: { attempt: 100 } })
    const unhandled: unknown[] = []
    const onUnhandled = (reason: unknown) => unhandled.push(reason)
    process.on('unhandledRejection', onUnhandled)
    try {
      const call = rf(navigation()).catch((error: unknown) => error)
      await flush()
      vi.advanceTimersByTime(100)
      expect(await call).toBeInstanceOf(TimeoutError)
      c.pending[0]!.respond(204)
      // Node reports an unhandled rejection once the microtasks have run: one real turn of the event loop.
      vi.useRealTimers()
      await new Promise((resolve) => setTimeout(resolve, 0))
      expect(unhandled).toEqual([])
    } finally {
      process.off('unhandledRejection', onUnhandled)
    }
  })

  it("ends when its caller aborts (the Request's own signal, the navigation's)", async () => {
    const c = controlledTransport()
    const rf = createResilientFetch({ fetch: c.fetch, fallback: false, retry: false })
    const controller = new AbortController()
    const request = Object.defineProperty(new Request('https://a.test/page', { signal: controller.signal }), 'mode', { value: 'navigate' })
    const call = rf(request).catch((error: unknown) => error)
    await flush()
    controller.abort(new DOMException('gone', 'AbortError'))
    expect(await call).toMatchObject({ name: 'AbortError', message: 'gone' })
  })

  it("is never hedged when sent as it is (nothing of ours could abort the attempt that loses), even with hedge: true; with an init of the caller's it is", async () => {
    const c = controlledTransport()
    const rf = createResilientFetch({ fetch: c.fetch, fallback: false, retry: false, hedge: { delay: 100 } })
    const calls = [rf(navigation('https://a.test/one')), rf(navigation('https://a.test/two'), { resilience: { hedge: true } }), rf(navigation('https://a.test/three'), { headers: { 'x-a': '1' } })]
    await flush()
    await vi.advanceTimersByTimeAsync(1_000)
    expect(c.mock.mock.calls.map(([input]) => (input as Request).url)).toEqual(['https://a.test/one', 'https://a.test/two', 'https://a.test/three', 'https://a.test/three'])
    expect(rf.snapshot().totals.hedges).toBe(1)
    for (const sent of c.pending.splice(0)) sent.respond(200)
    expect((await Promise.all(calls)).map((r) => r.status)).toEqual([200, 200, 200])
  })
})

describe('a navigation with no deadline (timeout: false)', () => {
  it('is sent as it is and answers with its response', async () => {
    const c = controlledTransport()
    const rf = createResilientFetch({ fetch: c.fetch, fallback: false, retry: false, timeout: false })
    const request = navigation()
    const call = rf(request)
    await flush()
    expect(c.mock.mock.calls).toEqual([[request]])
    c.pending[0]!.respond(200)
    expect((await call).status).toBe(200)
  })
})
