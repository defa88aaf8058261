/**
 * The default failure rule (README, API.md): network errors, timeouts, 5xx, 408 and 429 are failures
 * (and an interim 1xx other than 101: test/interim-status.test.ts); every other status here is a success. Held both on an instance (which judges without calling the rule's
 * function) and on the function itself (the Worker's proxy builds its own rule on it).
 */
import { describe, expect, it } from 'vitest'
import { createResilientFetch } from '../src/index.js'
import { isFailureDefault } from '../src/classify.js'
import { statusTransport } from './helpers.js'

const FAILURES = [408, 429, 500, 502, 503, 504, 599]
const SUCCESSES = [200, 204, 301, 400, 401, 404, 407, 409, 428, 430, 499]

describe('the default failure rule', () => {
  it('an instance with the default isFailure reports 5xx, 408 and 429 as failures, every other status as a success', async () => {
    for (const status of [...FAILURES, ...SUCCESSES]) {
      const rf = createResilientFetch({ fetch: statusTransport(status).fetch, retry: false, fallback: false, timeout: false })
      const seen: string[] = []
      rf.addEventListener('failure', () => seen.push('failure'))
      rf.addEventListener('success', () => seen.push('success'))
      const response = await rf('https://a.test/x')
      expect(response.status).toBe(status)
      expect(seen, `status ${status}`).toEqual([FAILURES.includes(status) ? 'failure' : 'success'])
    }
  })

  it('408 counts toward the breaker like a 5xx: enough of them open it', async () => {
    const t = statusTransport(408)
    const rf = createResilientFetch({ fetch: t.fetch, retry: false, fallback: false, timeout: false, breaker: { window: 'consecutive', failureThreshold: 3 } })
    for (let i = 0; i < 3; i++) await rf('https://a.test/x')
    expect(rf.breaker('https://a.test')?.state).toBe('open')
  })

  it('isFailureDefault: no response (a network error, a timeout) is a failure; a response is one for 5xx, 408 and 429 only', () => {
    expect(isFailureDefault({ error: new TypeError('fetch failed'), duration: 1 })).toBe(true)
    for (const status of FAILURES) expect(isFailureDefault({ response: new Response(null, { status }), duration: 1 }), `status ${status}`).toBe(true)
    for (const status of SUCCESSES) {
      const response = new Response(status === 204 ? null : 'x', { status })
      expect(isFailureDefault({ response, duration: 1 }), `status ${status}`).toBe(false)
    }
  })
})
