import { describe, expect, it } from 'vitest'
import { createResilientFetch } from '../src/index.js'

const bad: [string, object, RegExp][] = [
  ['breaker.failureThreshold', { breaker: { failureThreshold: -1 } }, /breaker\.failureThreshold must be a positive integer, got -1/],
  ['breaker.failureThreshold (float)', { breaker: { failureThreshold: 1.5 } }, /breaker\.failureThreshold .* got 1\.5/],
  ['breaker.failureRate', { breaker: { failureRate: 2 } }, /breaker\.failureRate must be a number from 0 to 1, got 2/],
  ['breaker.window', { breaker: { window: 'sliding' } }, /breaker\.window must be .*got "sliding"/],
  ['breaker.window.type', { breaker: { window: { type: 'hours' } } }, /breaker\.window\.type .*got "hours"/],
  ['breaker.window.size', { breaker: { window: { type: 'count', size: 0 } } }, /breaker\.window\.size .* got 0/],
  ['breaker.window.duration', { breaker: { window: { type: 'time', duration: -5 } } }, /breaker\.window\.duration .* got -5/],
  ['breaker.slowCall.rate', { breaker: { slowCall: { duration: 100, rate: -0.1 } } }, /breaker\.slowCall\.rate .* got -0\.1/],
  ['breaker.openDuration', { breaker: { openDuration: 0 } }, /breaker\.openDuration .* got 0/],
  ['breaker.openDuration.max', { breaker: { openDuration: { base: 1000, max: 10 } } }, /breaker\.openDuration\.max must be at least base \(1000\), got 10/],
  ['breaker.openDuration.jitter', { breaker: { openDuration: { base: 1, max: 2, jitter: 3 } } }, /breaker\.openDuration\.jitter .* got 3/],
  ['breaker.halfOpen.probes', { breaker: { halfOpen: { probes: 0 } } }, /breaker\.halfOpen\.probes .* got 0/],
  ['breaker.retryAfter', { breaker: { retryAfter: 'yes' } }, /breaker\.retryAfter must be a boolean, got "yes"/],
  ['breaker typo', { breaker: { failureTreshold: 3 } }, /breaker\.failureTreshold is not an option/],
  ['bulkhead.maxConcurrent', { bulkhead: { maxConcurrent: 0 } }, /bulkhead\.maxConcurrent must be a positive integer, got 0/],
  ['bulkhead.maxQueue', { bulkhead: { maxQueue: -1 } }, /bulkhead\.maxQueue must be a non-negative integer, got -1/],
  ['bulkhead.queueTimeout', { bulkhead: { queueTimeout: Infinity } }, /bulkhead\.queueTimeout .* got Infinity/],
  ['timeout', { timeout: -1 }, /timeout must be a positive finite number of ms, got -1/],
  ['timeout.total', { timeout: { total: 'soon' } }, /timeout\.total must be a number, got "soon"/],
  ['retry', { retry: -2 }, /retry\.limit must be a non-negative integer, got -2/],
  ['retry.methods', { retry: { methods: 'GET' } }, /retry\.methods must be an array of method names, got "GET"/],
  ['retry.statusCodes', { retry: { statusCodes: [700] } }, /retry\.statusCodes .* got \[700\]/],
  ['retry.backoff.jitter', { retry: { backoff: { jitter: 'some' } } }, /retry\.backoff\.jitter .* got "some"/],
  ['retry.budget.ratio', { retry: { budget: { ratio: 5 } } }, /retry\.budget\.ratio .* got 5/],
  ['retry.maxRetryAfter', { retry: { maxRetryAfter: -1 } }, /retry\.maxRetryAfter .* got -1/],
  ['isFailure', { isFailure: true }, /isFailure must be a function, got true/],
  ['key', { key: 'origin' }, /key must be a function, got "origin"/],
  ['fetch', { fetch: {} }, /fetch must be a function/],
  ['fallback.store', { fallback: { store: 'disk' } }, /fallback\.store must be .*got "disk"/],
  ['fallback.store methods', { fallback: { store: { get() {} } } }, /fallback\.store .*missing put\(\)/],
  ['fallback.maxAge', { fallback: { maxAge: 0 } }, /fallback\.maxAge .* got 0/],
  ['fallback.maxBodyBytes', { fallback: { maxBodyBytes: 1.5 } }, /fallback\.maxBodyBytes .* got 1\.5/],
  ['fallback.private', { fallback: { private: 1 } }, /fallback\.private must be a boolean, got 1/],
  ['maxKeys', { maxKeys: 0 }, /maxKeys must be a positive integer, got 0/],
  ['breaker.window.size under the threshold', { breaker: { window: { type: 'count', size: 3 } } }, /^breaker\.window\.size must be at least failureThreshold \(5\), got 3$/],
  ['unknown top-level', { retries: 3 }, /options\.retries is not an option/],
]

describe('invalid options throw at creation, naming the option and the value', () => {
  it.each(bad)('%s', (_name, options, message) => {
    expect(() => createResilientFetch(options as never)).toThrow(message)
  })

  it('uses RangeError for out-of-range numbers and TypeError for wrong types', () => {
    expect(() => createResilientFetch({ bulkhead: { maxConcurrent: 0 } })).toThrow(RangeError)
    expect(() => createResilientFetch({ isFailure: 1 as never })).toThrow(TypeError)
  })

  it('accepts every documented form', () => {
    expect(() =>
      createResilientFetch({
        breaker: {
          window: { type: 'count', size: 10 },
          failureThreshold: 3,
          failureRate: 0.5,
          slowCall: { duration: 1000, rate: 0.5 },
          openDuration: { base: 100, max: 1000 },
          halfOpen: { probes: 2, successesToClose: 2 },
          retryAfter: false,
        },
        bulkhead: { maxConcurrent: 1, maxQueue: 0, queueTimeout: 10 },
        timeout: { attempt: 100, total: false },
        retry: { limit: 0, methods: ['get'], statusCodes: [503], backoff: { base: 1, max: 2, jitter: 'none' }, budget: false },
        fallback: false,
        maxKeys: 1,
      }),
    ).not.toThrow()
    expect(() => createResilientFetch({ breaker: false, bulkhead: false, timeout: false, retry: false })).not.toThrow()
    expect(() => createResilientFetch({ breaker: { window: 'consecutive' }, timeout: 5, retry: 3 })).not.toThrow()
  })

  it('rejects bad per-call options with the option named', async () => {
    const rf = createResilientFetch({ fetch: async () => new Response('ok'), fallback: false })
    await expect(rf('https://a.test/', { resilience: { timeout: -1 } })).rejects.toThrow(/resilience\.timeout must be a positive finite number of ms, got -1/)
    await expect(rf('https://a.test/', { resilience: { retry: { limit: 'x' } } as never })).rejects.toThrow(/resilience\.retry\.limit must be a number, got "x"/)
    await expect(rf('https://a.test/', { resilience: { keys: 'x' } as never })).rejects.toThrow(/resilience\.keys is not an option/)
    await expect(rf('https://a.test/', { resilience: { key: '' } })).rejects.toThrow(/resilience\.key must be a non-empty string/)
  })
})
