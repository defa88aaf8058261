import { describe, expect, it, onTestFinished, vi } from 'vitest'
import { createResilientFetch } from '../src/index.js'
import { rejection } from './helpers.js'

const nativeFetch = globalThis.fetch

describe('requests fetch refuses before the network', () => {
  it('a request fetch rejects before any I/O (bad method, GET with a body) is not an upstream failure: no breaker move, no retry', async () => {
    let calls = 0
    const transport: typeof fetch = (input, init) => {
      calls++
      return nativeFetch(input, init)
    }
    const rf = createResilientFetch({ fetch: transport, fallback: false, breaker: { failureThreshold: 1 }, retry: { limit: 2, backoff: { base: 1 } } })
    for (const init of [{ method: 'bad method\n' }, { method: 'CONNECT' }, { method: 'GET', body: 'x' }]) {
      expect(await rejection(rf('http://127.0.0.1:59999/x', init))).toBeInstanceOf(TypeError)
    }
    expect(calls).toBe(3)
    expect(rf.breaker('http://127.0.0.1:59999')!.state).toBe('closed')
  })

  it('a method that is not a string is coerced, as fetch does', async () => {
    const seen: string[] = []
    const transport: typeof fetch = async (input, init) => {
      seen.push(new Request(input, init).method)
      return new Response('ok')
    }
    const rf = createResilientFetch({ fetch: transport, fallback: false })
    const method = { toString: () => 'patch' } as unknown as string
    expect((await rf('http://a.test/x', { method })).status).toBe(200)
    expect(seen).toEqual(['patch'])
  })
})

describe('signal precedence', () => {
  it("init.signal: null clears a Request's own signal, as in fetch", async () => {
    // The transport builds the Request exactly as fetch does and reports the signal it ended up with.
    const transport: typeof fetch = async (input, init) => new Response(`aborted=${new Request(input, init).signal.aborted}`)
    const controller = new AbortController()
    controller.abort('stale')
    const request = new Request('http://a.test/x', { signal: controller.signal })
    expect(await (await transport(request, { signal: null })).text()).toBe('aborted=false')
    const rf = createResilientFetch({ fetch: transport, fallback: false })
    expect(await (await rf(request, { signal: null })).text()).toBe('aborted=false')
  })
})

describe('an init.signal that is not an AbortSignal', () => {
  function counting() {
    const sent: unknown[] = []
    const transport: typeof fetch = async (input) => {
      sent.push(input)
      return new Response('ok')
    }
    return { rf: createResilientFetch({ fetch: transport, fallback: false }), sent }
  }

  it('an EventTarget with no `aborted` is refused with the TypeError fetch gives, and nothing is sent', async () => {
    const { rf, sent } = counting()
    const signal = new EventTarget() as AbortSignal
    const theirs = await rejection(nativeFetch('http://a.test/x', { signal }))
    const ours = await rejection(rf('http://a.test/x', { signal }))
    expect(ours).toBeInstanceOf(TypeError)
    expect((ours as Error).message).toBe((theirs as Error).message)
    expect(sent).toEqual([])
  })

  it('a function dressed as one (aborted, addEventListener) is refused with a TypeError naming init.signal, and nothing is sent', async () => {
    const { rf, sent } = counting()
    const signal = Object.assign(() => {}, { aborted: false, reason: undefined, addEventListener() {}, removeEventListener() {} }) as unknown as AbortSignal
    const error = await rejection(rf('http://a.test/x', { signal }))
    expect(error).toBeInstanceOf(TypeError)
    expect((error as Error).message).toMatch(/init\.signal must be an AbortSignal/)
    expect(sent).toEqual([])
  })
})

describe('stale outcomes', () => {
  it('a Retry-After from a call admitted before the breaker changed state does not move it', async () => {
    vi.useFakeTimers()
    onTestFinished(() => void vi.useRealTimers())
    const pending: ((r: Response) => void)[] = []
    const transport: typeof fetch = () => new Promise((resolve) => pending.push(resolve))
    const rf = createResilientFetch({ fetch: transport, fallback: false, retry: false, timeout: false, breaker: { failureThreshold: 1, openDuration: 1 } })
    const stale = rf('http://a.test/slow')            // admitted while closed, answers last
    const tripping = rf('http://a.test/fails')
    await vi.advanceTimersByTimeAsync(0)
    pending[1]!(new Response(null, { status: 500 }))   // closed → open
    expect((await tripping).status).toBe(500)
    await vi.advanceTimersByTimeAsync(5)               // openDuration passed
    const probe = rf('http://a.test/probe')            // open → half-open, probe admitted
    await vi.advanceTimersByTimeAsync(0)
    pending[2]!(new Response(null, { status: 200 }))   // half-open → closed
    expect((await probe).status).toBe(200)
    const control = rf.breaker('http://a.test')!
    expect(control.state).toBe('closed')
    pending[0]!(new Response(null, { status: 503, headers: { 'retry-after': '30' } }))
    expect((await stale).status).toBe(503)
    expect(control.state).toBe('closed')
  })
})

describe('a URL the library cannot read', () => {
  it('goes to the transport without `resilience`, as every other call does', async () => {
    const seen: unknown[] = []
    const transport: typeof fetch = async (_input, init) => (seen.push(init && Object.keys(init)), new Response('ok'))
    const rf = createResilientFetch({ fetch: transport, fallback: false })
    await rf('/relative/path', { headers: {}, resilience: { retry: 0 } })
    await rf('http://[bad', { resilience: { retry: 0 } })
    expect(seen).toEqual([['headers'], []])
  })
})

describe('an init body of null', () => {
  it('is no body, as with fetch: the call is sent and answered', async () => {
    const rf = createResilientFetch({ fetch: async () => new Response('ok'), fallback: false })
    expect((await rf('http://a.test/x', { method: 'POST', body: null })).status).toBe(200)
  })
})
