import { describe, expect, it, vi } from 'vitest'
import worker, { configFromEnv, createProxy } from '../../src/worker/index.js'

const UPSTREAM = 'http://127.0.0.1:9'
/** Every option createProxy knows, as the schema lists them in its errors. */
const KNOWN = 'upstream, routes, timeout, maxConcurrent, failureThreshold, window, openDuration, methods, metricsToken, fetch, store, lastKnownGood, coordinator, minReporters, hedge'

describe('configuration from [vars]', () => {
  it.each([
    [{ UPSTREAM_URL: UPSTREAM, TIMEOUT_MS: 'abc' }, 'TIMEOUT_MS must be a number, got "abc"'],
    [{ UPSTREAM_URL: UPSTREAM, TIMEOUT_MS: '-5' }, 'TIMEOUT_MS must be a positive integer, got -5'],
    [{ UPSTREAM_URL: UPSTREAM, MAX_CONCURRENT: '1.5' }, 'MAX_CONCURRENT must be a positive integer, got 1.5'],
    [{ UPSTREAM_URL: UPSTREAM, FAILURE_THRESHOLD: '0' }, 'FAILURE_THRESHOLD must be a positive integer, got 0'],
    [{ UPSTREAM_URL: UPSTREAM, WINDOW_MS: '30s' }, 'WINDOW_MS must be a number, got "30s"'],
    [{ UPSTREAM_URL: UPSTREAM, OPEN_DURATION_MS: 'soon' }, 'OPEN_DURATION_MS must be a number, got "soon"'],
    [{ UPSTREAM_URL: UPSTREAM, METHODS: 'GET,,POST' }, 'METHODS must be a comma-separated list of methods'],
    // Methods fetch refuses to send: every such request would fail, and count against no upstream.
    [{ UPSTREAM_URL: UPSTREAM, METHODS: 'GET,TRACE' }, 'METHODS must be methods fetch can send (not TRACE), got "GET,TRACE"'],
    [{ UPSTREAM_URL: UPSTREAM, METHODS: ' connect ' }, 'METHODS must be methods fetch can send (not CONNECT), got " connect "'],
    [{ UPSTREAM_URL: UPSTREAM, METHODS: 'GET,HEAD,track' }, 'METHODS must be methods fetch can send (not TRACK), got "GET,…" (14 characters)'],
    [{ UPSTREAM_URL: 'ftp://files.example' }, 'UPSTREAM_URL must be an absolute http(s) URL, got "ftp://files.example/"'],
    [{ UPSTREAM_URL: 'not a url' }, 'UPSTREAM_URL must be an absolute http(s) URL, got "not a url"'],
    [{ UPSTREAM_URL: 'http://user:pw@upstream.test' }, 'UPSTREAM_URL must be an http(s) URL without credentials'],
    [{}, 'UPSTREAM_URL (or ROUTES) must be set'],
    [{ ROUTES: '{"/api/": ' }, 'ROUTES must be JSON like'],
    [{ ROUTES: '["http://a.test"]' }, 'ROUTES must be an object of path prefix to origins'],
    [{ ROUTES: '{"/api/": []}' }, 'ROUTES["/api/"] must be a non-empty array of http(s) URLs'],
    [{ ROUTES: '{"/api/": ["javascript:alert(1)"]}' }, 'ROUTES["/api/"] must be an absolute http(s) URL, got "java…" (19 characters)'],
    [{ ROUTES: '{"api/": ["http://a.test"]}' }, 'ROUTES keys must be path prefixes like "/api/", got "api/"'],
    [{ ROUTES: '{"//evil/": ["http://a.test"]}' }, 'ROUTES keys must be path prefixes'],
    [{ UPSTREAM_URL: UPSTREAM, MIN_REPORTERS: '0' }, 'MIN_REPORTERS must be a positive integer, got 0'],
  ])('%j → a 500 naming the var on every request', async (env, message) => {
    const variable = message.match(/^[A-Z_]+/)![0]
    const logged = vi.spyOn(console, 'error').mockImplementation(() => {})
    try {
      for (let i = 0; i < 2; i++) {
        const response = await worker.fetch(new Request('http://proxy.test/api/data'), { ...env }, undefined)
        expect(response.status).toBe(500)
        expect(await response.json()).toEqual({ error: 'config', var: variable })
      }
      expect(logged.mock.calls.flat().join('\n')).toContain(message)
    } finally {
      logged.mockRestore()
    }
    expect(() => configFromEnv(env)).toThrow(message)
  })

  it.each([
    [{ UPSTREAM_URL: 'https://admin:hunter2-secret@api.example.com/v1' }, 'UPSTREAM_URL', '"https://***@api.example.com/v1"', ['admin', 'hunter2-secret']],
    [{ UPSTREAM_URL: 'https://api.example.com/v1?api_key=sk_live_0123456789' }, 'UPSTREAM_URL', '"https://api.example.com/v1?***"', ['sk_live_0123456789']],
    [{ ROUTES: '{"/api/": ["https://api.example.com/#tok=abcdef0123"]}' }, 'ROUTES', '"https://api.example.com/#***"', ['abcdef0123']],
    [{ UPSTREAM_URL: 'http://a.test', TIMEOUT_MS: 'sk_live_0123456789abcdef' }, 'TIMEOUT_MS', '"sk_l…" (24 characters)', ['sk_live_0123456789abcdef']],
    // Digits too long for a count: the schema's hint (write it without quotes) must not repeat them either.
    [{ UPSTREAM_URL: 'http://a.test', MAX_CONCURRENT: '12345678901234567890' }, 'MAX_CONCURRENT', 'MAX_CONCURRENT must be a number, got "1234…" (20 characters)', ['12345678901234567890']],
    [{ ROUTES: '{"/api/": ["https://u:sk_live_0123456789@a.test"' }, 'ROUTES', '(SyntaxError)', ['sk_live_0123456789']],
  ])('%j: the client gets the var name only; the log gets the value redacted', async (env, variable, shown, secrets) => {
    const logged = vi.spyOn(console, 'error').mockImplementation(() => {})
    try {
      const response = await worker.fetch(new Request('http://proxy.test/api/data'), env, undefined)
      const text = await response.text()
      expect(JSON.parse(text)).toEqual({ error: 'config', var: variable })
      const log = logged.mock.calls.flat().join('\n')
      expect(log).toContain(variable)
      expect(log).toContain(shown)
      for (const secret of secrets) {
        expect(text).not.toContain(secret)
        expect(log).not.toContain(secret)
      }
    } finally {
      logged.mockRestore()
    }
  })

  it('applies the defaults', () => {
    const config = configFromEnv({ UPSTREAM_URL: 'https://api.example.com/v1/' })
    expect(config).toMatchObject({ timeout: 2_000, maxConcurrent: 50, failureThreshold: 5, window: 30_000, openDuration: 30_000, metricsToken: undefined, minReporters: 2 })
    expect([...config.methods]).toEqual(['GET', 'HEAD'])
    expect(config.routes).toEqual([{ prefix: '/api/', upstreams: [{ origin: 'https://api.example.com', basePath: '/v1' }] }])
  })

  it('reads every var, and ROUTES wins over UPSTREAM_URL', () => {
    const config = configFromEnv({
      UPSTREAM_URL: 'http://ignored.test',
      ROUTES: '{"/api/": ["https://a.test", "https://b.test/base"], "/img": "https://img.test"}',
      TIMEOUT_MS: '150',
      MAX_CONCURRENT: 7,
      FAILURE_THRESHOLD: '2',
      WINDOW_MS: '1000',
      OPEN_DURATION_MS: '250',
      METHODS: 'get, head ,put',
      METRICS_TOKEN: 't',
      MIN_REPORTERS: '3',
    })
    expect(config).toMatchObject({ timeout: 150, maxConcurrent: 7, failureThreshold: 2, window: 1_000, openDuration: 250, metricsToken: 't', minReporters: 3 })
    expect([...config.methods]).toEqual(['GET', 'HEAD', 'PUT'])
    expect(config.routes.map((r) => r.prefix)).toEqual(['/api/', '/img/'])
    expect(config.routes[0].upstreams.map((u) => u.origin)).toEqual(['https://a.test', 'https://b.test'])
  })

  it('accepts ROUTES as a TOML table (an object in env) as well as a JSON string', () => {
    const config = configFromEnv({ ROUTES: { '/api/': ['https://a.test', 'https://b.test'] } })
    expect(config.routes[0].upstreams.map((u) => u.origin)).toEqual(['https://a.test', 'https://b.test'])
  })

  it('treats an empty var as unset (empty ROUTES falls back to UPSTREAM_URL, empty METRICS_TOKEN guards nothing)', async () => {
    const config = configFromEnv({ UPSTREAM_URL: UPSTREAM, ROUTES: '', METRICS_TOKEN: '', TIMEOUT_MS: '' })
    expect(config.timeout).toBe(2_000)
    expect(config.metricsToken).toBeUndefined()
    expect(configFromEnv({ UPSTREAM_URL: UPSTREAM, ROUTES: '{}' }).routes[0].upstreams[0].origin).toBe(UPSTREAM)
    const response = await worker.fetch(new Request('http://proxy.test/metrics.json'), { UPSTREAM_URL: UPSTREAM, METRICS_TOKEN: '' }, undefined)
    expect(response.status).toBe(200)
  })

  it('builds the proxy once per env: breaker state survives across requests', async () => {
    // The default Worker uses the global fetch: a refused connection, so one failure opens the breaker.
    const refused = vi.spyOn(globalThis, 'fetch').mockRejectedValue(new TypeError('connection refused'))
    const env = { UPSTREAM_URL: 'http://refused.test', FAILURE_THRESHOLD: '1', OPEN_DURATION_MS: '60000' }
    try {
      expect((await worker.fetch(new Request('http://proxy.test/api/x'), env, undefined)).status).toBe(503)
      // The same vars in a new env object (as a runtime may pass per request) still find the same proxy.
      const response = await worker.fetch(new Request('http://proxy.test/api/x'), { ...env }, undefined)
      expect(await response.json()).toEqual({ error: 'circuit_open', key: 'http://refused.test' })
      expect(refused).toHaveBeenCalledTimes(1)
    } finally {
      refused.mockRestore()
    }
  })
})

describe('createProxy', () => {
  it.each([
    [{ upstream: UPSTREAM, timeout: -1 }, RangeError, 'timeout must be a positive integer, got -1'],
    [{ upstream: UPSTREAM, maxConcurrent: 0 }, RangeError, 'maxConcurrent must be a positive integer, got 0'],
    [{ upstream: 'gopher://x' }, TypeError, 'upstream must be an absolute http(s) URL, got "gopher://x"'],
    [{ routes: { '/api/': 'file:///etc/passwd' } }, TypeError, 'routes["/api/"] must be an absolute http(s) URL'],
    [{ upstream: UPSTREAM, methods: 42 }, TypeError, 'methods must be a comma-separated list'],
    [{ upstream: UPSTREAM, methods: ['GET', 'trace'] }, RangeError, 'methods must be methods fetch can send (not TRACE), got ["GET","trace"]'],
    [{ upstream: UPSTREAM, methods: 'CONNECT' }, RangeError, 'methods must be methods fetch can send (not CONNECT), got "CONNECT"'],
    [{ upstream: UPSTREAM, fetch: 'no' }, TypeError, 'fetch must be a function, got "no"'],
    [{ upstream: UPSTREAM, metricsToken: 5 }, TypeError, 'metricsToken must be a string, got 5'],
    [{ upstrem: UPSTREAM }, TypeError, `options.upstrem is not an option (known: ${KNOWN}): did you mean upstream?`],
    [{ upstream: UPSTREAM, timeOut: 5 }, TypeError, `options.timeOut is not an option (known: ${KNOWN}): did you mean timeout?`],
    [{ upstream: UPSTREAM, color: 'red' }, TypeError, `options.color is not an option (known: ${KNOWN})`],
    [{ upstream: UPSTREAM, timeout: '150ms' }, TypeError, 'timeout must be a number, got "150ms"'],
    [{ upstream: UPSTREAM, hedge: 2 ** 31 }, RangeError, 'hedge must be at most 2147483647 ms, got 2147483648'],
    [{ upstream: UPSTREAM, store: 'disk' }, TypeError, `store must be 'memory' or a FallbackStore, got "disk"`],
    [{ upstream: UPSTREAM, coordinator: {} }, TypeError, 'coordinator must be a Durable Object namespace binding (class BreakerCoordinator) (missing idFromName()), got {}'],
    [{ upstream: UPSTREAM, lastKnownGood: {} }, TypeError, 'lastKnownGood must be a Workers KV namespace binding (missing getWithMetadata()), got {}'],
  ])('%j throws at creation', (config, type, message) => {
    expect(() => createProxy(config as never)).toThrow(type)
    expect(() => createProxy(config as never)).toThrow(message)
  })
})
