// Durations past what setTimeout can wait (2^31 - 1 ms; a longer one fires at once): refused by the var or option that
// holds them, as every other bad var is, not by the library's option path behind it, which no deployment has.
import { describe, expect, it, vi } from 'vitest'
import worker, { configFromEnv, createProxy } from '../../src/worker/index.js'

const UPSTREAM = 'http://127.0.0.1:9'
const TOO_LONG = String(2 ** 31)

describe('a duration var past 2147483647 ms', () => {
  it.each(['TIMEOUT_MS', 'WINDOW_MS', 'OPEN_DURATION_MS', 'HEDGE_MS'])('%s: a 500 naming the var on every request, and a log line naming it', async (variable) => {
    const env = { UPSTREAM_URL: UPSTREAM, [variable]: TOO_LONG }
    const message = `${variable} must be at most 2147483647 ms, got ${TOO_LONG}`
    const logged = vi.spyOn(console, 'error').mockImplementation(() => {})
    try {
      const response = await worker.fetch(new Request('http://proxy.test/api/data'), env, undefined)
      expect(response.status).toBe(500)
      expect(await response.json()).toEqual({ error: 'config', var: variable })
      expect(logged.mock.calls.flat().join('\n')).toContain(message)
    } finally {
      logged.mockRestore()
    }
    expect(() => configFromEnv(env)).toThrow(message)
  })

  it('2147483647 itself is taken', () => {
    const max = String(2 ** 31 - 1)
    expect(configFromEnv({ UPSTREAM_URL: UPSTREAM, TIMEOUT_MS: max, WINDOW_MS: max, OPEN_DURATION_MS: max, HEDGE_MS: max })).toMatchObject({ timeout: 2 ** 31 - 1, window: 2 ** 31 - 1, openDuration: 2 ** 31 - 1, hedge: 2 ** 31 - 1 })
  })
})

describe('createProxy with a duration past 2147483647 ms', () => {
  it.each(['timeout', 'window', 'openDuration', 'hedge'])('%s: a RangeError naming the option', (option) => {
    const create = () => createProxy({ upstream: UPSTREAM, store: 'memory', [option]: 2 ** 31 })
    expect(create).toThrow(RangeError)
    // The option's own name, not the library's path behind it (breaker.openDuration).
    expect(create).toThrow(new RegExp(`^${option} must be at most 2147483647 ms, got ${2 ** 31}$`))
  })
})
