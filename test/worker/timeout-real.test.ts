import { describe, expect, inject, it } from 'vitest'
import { ResilienceError, TimeoutError, createResilientFetch } from '../../src/index.js'
import { createProxy } from '../../src/worker/index.js'

// The library inside workerd calls a real slow server on 127.0.0.1 (slow-upstream.ts, outside workerd):
// workerd rejects an aborted fetch with its own Error, and a deadline we armed must still be our TimeoutError.
const slow = inject('slowUpstreamUrl')

async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise
  } catch (error) {
    return error
  }
  throw new Error('expected a rejection')
}

describe('deadlines in workerd against a real upstream', () => {
  it('the attempt deadline is a TimeoutError (scope attempt), counted, with a timeout event, and a breaker failure', async () => {
    const rf = createResilientFetch({ timeout: { attempt: 200, total: false }, retry: false, fallback: false, breaker: { window: 'consecutive', failureThreshold: 1 } })
    const events: string[] = []
    rf.addEventListener('timeout', (e) => {
      events.push(`${e.detail.scope}:${e.detail.timeout}`)
    })
    const error = await rejectionOf(rf(`${slow}/?ms=5000`))
    expect(error).toBeInstanceOf(TimeoutError)
    expect(error).toBeInstanceOf(ResilienceError)
    expect(error).toMatchObject({ name: 'TimeoutError', scope: 'attempt', timeout: 200 })
    expect(events).toEqual(['attempt:200'])
    expect(rf.snapshot().totals).toMatchObject({ requests: 1, failures: 1, timeouts: 1 })
    expect(rf.breaker(slow)!.state).toBe('open')
  })

  it('the total deadline is a TimeoutError (scope total)', async () => {
    const rf = createResilientFetch({ timeout: { attempt: false, total: 200 }, retry: false, fallback: false, breaker: false })
    const error = await rejectionOf(rf(`${slow}/?ms=5000`))
    expect(error).toBeInstanceOf(TimeoutError)
    expect(error).toMatchObject({ scope: 'total', timeout: 200 })
    expect(rf.snapshot().totals.timeouts).toBe(1)
  })

  it('a fast answer from the same server is not a timeout', async () => {
    const rf = createResilientFetch({ timeout: { attempt: 5_000, total: false }, retry: false, fallback: false })
    const response = await rf(`${slow}/?ms=0`)
    expect(await response.text()).toBe('slow')
    expect(rf.snapshot().totals.timeouts).toBe(0)
  })

  it('the proxy answers a cut attempt with "timeout" in its 503 and counts it in /metrics', async () => {
    const handler = createProxy({ upstream: slow, timeout: 200, store: 'memory' })
    const response = await handler(new Request('http://proxy.test/api/?ms=5000'))
    expect(response.status).toBe(503)
    expect(await response.json()).toMatchObject({ error: 'timeout' })
    const metrics = await (await handler(new Request('http://proxy.test/metrics'))).text()
    expect(metrics).toContain('resilient_fetch_timeouts_total 1\n')
  })
})

describe('rf(url, request) in workerd, the usual idiom for re-targeting a request', () => {
  it('sends the request\'s method, Authorization and body to the new URL, as fetch(url, request) does', async () => {
    const rf = createResilientFetch({ fallback: false })
    const request = () => new Request('https://elsewhere.example/in', { method: 'POST', headers: { authorization: 'Bearer t0ken' }, body: '{"a":1}' })
    const expected = { method: 'POST', authorization: 'Bearer t0ken', body: '{"a":1}' }
    expect(await (await fetch(`${slow}/echo`, request())).json()).toEqual(expected)
    expect(await (await rf(`${slow}/echo`, request())).json()).toEqual(expected)
  })
})
