/**
 * How an attempt's end is judged and reported (README: Events, Fallback; API.md: the failure rule): a network
 * error is a failure whatever the request's body, its `failure` event names the key, the error and the duration,
 * and an `isFailure` that throws rejects the call with its error, the bulkhead permit given back.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { createResilientFetch } from '../src/index.js'
import { rejection } from './helpers.js'

beforeEach(() => void vi.useFakeTimers({ now: 1_000_000 }))
afterEach(() => void vi.useRealTimers())

describe('an attempt that ends without a response', () => {
  it("a network error's failure event carries the key, the error and the duration", async () => {
    const down = new TypeError('fetch failed')
    const fetch = (() => new Promise((_, reject) => setTimeout(() => reject(down), 30))) as typeof globalThis.fetch
    const rf = createResilientFetch({ fetch, retry: false, fallback: false, timeout: false })
    const failures: unknown[] = []
    rf.addEventListener('failure', (event) => failures.push(event.detail))
    const call = rejection(rf('https://a.test/x'))
    await vi.advanceTimersByTimeAsync(30)
    expect(await call).toBe(down)
    expect(failures).toEqual([{ key: 'https://a.test', error: down, duration: 30 }])
  })

  it('a network error on a streamed upload (its stream read by the transport) is an upstream failure: the breaker counts it', async () => {
    const down = new TypeError('fetch failed')
    const fetch: typeof globalThis.fetch = async (input, init) => {
      // As fetch does: the body is read (the stream locked for good), then the connection drops.
      await new Request(input, init).text()
      throw down
    }
    const rf = createResilientFetch({ fetch, fallback: false, timeout: false, breaker: { window: 'consecutive', failureThreshold: 1 } })
    const failures: unknown[] = []
    rf.addEventListener('failure', (event) => failures.push(event.detail))
    const body = new ReadableStream({
      start(controller) {
        controller.enqueue(new TextEncoder().encode('upload'))
        controller.close()
      },
    })
    const init = { method: 'POST', body, duplex: 'half' } as RequestInit
    expect(await rejection(rf('https://a.test/x', init))).toBe(down)
    expect(failures).toHaveLength(1)
    expect(rf.breaker('https://a.test')!.state).toBe('open')
  })
})

describe('an isFailure that throws', () => {
  it('on a response with no body (204), rejects the call with its error and gives the bulkhead permit back', async () => {
    const boom = new Error('bad rule')
    const rf = createResilientFetch({
      fetch: async () => new Response(null, { status: 204 }),
      fallback: false,
      retry: false,
      bulkhead: { maxConcurrent: 1, maxQueue: 0 },
      isFailure: () => {
        throw boom
      },
    })
    expect(await rejection(rf('https://a.test/x'))).toBe(boom)
    expect(rf.snapshot().bulkheads).toMatchObject([{ key: 'https://a.test', active: 0 }])
    expect(await rejection(rf('https://a.test/x'))).toBe(boom)
  })
})
