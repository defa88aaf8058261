// The proxy's route matching, upstream URLs, header filtering and config checks, as pure functions in Node: what the
// mutation testing of src/worker/route.ts and src/worker/config.ts found no Node test for (the workerd tests go
// through the whole Worker, which Stryker cannot run).
import { describe, expect, it } from 'vitest'
import { configFromEnv, redact, resolveConfig, type Route } from '../src/worker/config.js'
import { matchRoute, requestHeaders, responseHeaders, upstreamUrl } from '../src/worker/route.js'

const route = (prefix: string): Route => ({ prefix, upstreams: [{ origin: 'http://u.test', basePath: '' }] })

describe('matchRoute', () => {
  const routes = [route('/api/v2/'), route('/api/')]
  it.each([
    ['/api/v2/x/y', '/api/v2/', '/x/y'],
    ['/api/v2/', '/api/v2/', '/'],
    ['/api/v2', '/api/v2/', '/'],
    ['/api/v1/x', '/api/', '/v1/x'],
    ['/api/', '/api/', '/'],
    ['/api', '/api/', '/'],
  ])('%s → %s with rest %s', (path, prefix, rest) => {
    expect(matchRoute(routes, path)).toEqual({ route: expect.objectContaining({ prefix }), rest })
  })

  it.each(['/apix', '/ap', '/', '/v2/api/', '/API/x', '/apj'])('%s matches no route', (path) => {
    expect(matchRoute(routes, path)).toBeUndefined()
  })
})

describe('upstreamUrl', () => {
  const upstream = { origin: 'http://upstream.test', basePath: '/v1' }
  // As the Worker hands it over: the request URL parsed (literal and %2e dot segments resolved), less the route's prefix.
  const restOf = (path: string) => new URL(`http://proxy.test${path}`).pathname.slice('/api'.length)

  it.each([
    '/api/..%2f..%2fadmin',
    '/api/%2e%2e%2fadmin',
    '/api/.%2e%2fadmin',
    '/api/..%5cadmin',
    '/api/%252e%252e/admin',
    '/api/%252e%252e%252fadmin',
    '/api/..;/admin',
    '/api/..;%0a/admin',
    '/api/..%00/admin',
    '/api/%u002e%u002e/admin',
    '/api/%U002E%U002E/admin',
    '/api/%u002e/admin',
    '/api/dir%2F..hidden',
    '/api/a%2F.%2Fb',
    '/api/a%2F.',
    '/api/.%2Fb',
    '/api/%c0%ae%c0%ae/admin',
    '/api/%C0%AE%C0%AE%C0%AFadmin',
    '/api/..%c1%9cadmin',
    '/api/..%c1%1cadmin',
    '/api/%e0%80%ae%e0%80%ae/admin',
    '/api/x/%f0%80%80%ae%f0%80%80%ae/admin',
    '/api/..%f8%80%80%80%afadmin',
    '/api/%fc%80%80%80%80%ae%fc%80%80%80%80%ae/admin',
    '/api/%25c0%25ae%25c0%25ae/admin',
    '/api/%ef%bc%8e%ef%bc%8e/admin',
    '/api/..%ef%bc%8fadmin',
    '/api/..%EF%BC%BCadmin',
    '/api/%e2%80%a5/admin',
    '/api/%ef%b9%92%ef%b9%92/admin',
    '/api/..%e2%88%95admin',
    '/api/..%e2%81%84admin',
    '/api/..%e2%88%96admin',
    '/api/..%c2%a5admin',
    '/api/..%e2%82%a9admin',
    '/api/%uff0e%uff0e/admin',
    '/api/%c0%a52e%c0%a52e/admin',
    '/api/..%c0%a55cadmin',
    '/api/%ef%bc%85%ef%bc%92%ef%bd%85%ef%bc%85%ef%bc%92%ef%bd%85/admin',
  ])('%s is refused', (path) => {
    expect(upstreamUrl(upstream, restOf(path), '')).toBeUndefined()
  })

  it.each([
    ['/api/projects/group%2Fproject/raw', '/v1/projects/group%2Fproject/raw'],
    ['/api/files/v1.2%2F.hidden', '/v1/files/v1.2%2F.hidden'],
    ['/api/a%2F.well-known', '/v1/a%2F.well-known'],
    ['/api/notes/...', '/v1/notes/...'],
    ['/api/caf%C3%A9', '/v1/caf%C3%A9'],
    ['/api/%C2%A5100', '/v1/%C2%A5100'],
    ['/api/100%25%E2%80%A6', '/v1/100%25%E2%80%A6'],
    ['/api/a%ef%bc%85%ef%bc%92%ef%bc%90b', '/v1/a%ef%bc%85%ef%bc%92%ef%bc%90b'],
    ['/api/v1%ef%bc%8e2', '/v1/v1%ef%bc%8e2'],
    ['/api/%E3%81%A5..txt', '/v1/%E3%81%A5..txt'],
    ['/api/a.b/.c./..d', '/v1/a.b/.c./..d'],
  ])('%s goes through, to %s', (path, pathname) => {
    expect(upstreamUrl(upstream, restOf(path), '?q=1')).toBe(`http://upstream.test${pathname}?q=1`)
  })

  it.each(['/api/%2e;x/admin', '/api/x/.%00/admin', '/api/.;/admin'])('%s (a lone dot with a path parameter or a NUL) is refused', (path) => {
    expect(upstreamUrl(upstream, restOf(path), '')).toBeUndefined()
  })

  it('a segment that still holds a % after every decode, a lax reading too, goes through (decoded at most three times, no endless reading)', () => {
    expect(upstreamUrl(upstream, restOf('/api/caf%C3%A9%25'), '')).toBe('http://upstream.test/v1/caf%C3%A9%25')
    expect(upstreamUrl(upstream, '/\u00e9%', '')).toBe('http://upstream.test/v1/\u00e9%')
    // Three decodes: a dot-dot encoded three times over is still refused.
    expect(upstreamUrl(upstream, '/%25252e%25252e/admin', '')).toBeUndefined()
  })

  it('a six-byte overlong form past U+10FFFF reads as U+FFFD (no RangeError)', () => {
    expect(upstreamUrl(upstream, '/x%fd%bf%bf%bf%bf%bfy', '')).toBe('http://upstream.test/v1/x%fd%bf%bf%bf%bf%bfy')
  })

  it('on a raw string: what the URL parser resolves out of the base path (a tab inside `..`) is refused; a query alone is no path', () => {
    expect(upstreamUrl(upstream, '/.\t./admin', '')).toBeUndefined()
    expect(upstreamUrl(upstream, '/x/.\n./.\r./admin', '')).toBeUndefined()
    expect(upstreamUrl(upstream, '/x/.\t./y', '')).toBe('http://upstream.test/v1/x/.\t./y')
    expect(upstreamUrl({ origin: 'http://upstream.test', basePath: '' }, '?a', '')).toBeUndefined()
    expect(upstreamUrl({ origin: 'http://upstream.test', basePath: '' }, ':80/x', '')).toBeUndefined()
  })

  it('a rest that does not start with / is refused; an upstream without a base path takes the rest as it is', () => {
    expect(upstreamUrl(upstream, 'x', '')).toBeUndefined()
    expect(upstreamUrl({ origin: 'http://upstream.test', basePath: '' }, '/', '')).toBe('http://upstream.test/')
    expect(upstreamUrl(upstream, '/', '')).toBe('http://upstream.test/v1/')
  })
})

describe('requestHeaders', () => {
  const DROPPED = [
    ...['connection', 'keep-alive', 'proxy-authenticate', 'proxy-authorization', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade'],
    ...['x-original-url', 'x-rewrite-url', 'x-http-method-override', 'x-http-method', 'x-method-override', 'x-forwarded-prefix'],
    ...['host', 'forwarded', 'x-forwarded-host', 'x-forwarded-proto', 'x-forwarded-port', 'x-forwarded-scheme', 'x-forwarded-server', 'x-forwarded-ssl', 'front-end-https', 'x-url-scheme', 'x-host', 'x-original-host', 'cf-visitor'],
    'expect',
    ...['cf-connecting-ip', 'cf-connecting-ipv6', 'cf-pseudo-ipv4', 'true-client-ip', 'x-real-ip', 'x-client-ip', 'client-ip', 'x-cluster-client-ip', 'fastly-client-ip', 'x-originating-ip', 'x-appengine-user-ip', 'x-forwarded', 'forwarded-for'],
    ...['x-forwarded-user', 'x-forwarded-email', 'x-forwarded-preferred-username', 'x-forwarded-groups', 'remote-user', 'remote-email', 'remote-name', 'remote-groups', 'x-remote-user', 'x-webauth-user', 'x-authenticated-user'],
    ...['x-ms-client-principal', 'x-ms-client-principal-name', 'x-ms-client-principal-id', 'x-ms-client-principal-idp', 'x-amzn-oidc-identity', 'x-amzn-oidc-data', 'x-goog-authenticated-user-email', 'x-goog-authenticated-user-id', 'cf-access-authenticated-user-email'],
    ...['signature', 'signature-input', 'signature-agent'],
    ...['client-cert', 'client-cert-chain', 'x-ssl-client-cert', 'ssl-client-verify', 'x-ssl-client-dn', 'x-forwarded-client-cert', 'x-arr-clientcert', 'x-amzn-mtls-clientcert', 'x-client-verify', 'x-client-dn'],
  ]
  const KEPT = ['accept', 'authorization', 'cookie', 'x-forwarded-for', 'x-request-id', 'cache-control', 'x-client-version', 'x-ssl-client', 'my-ssl-client-x', 'x-client-dnx', 'my-x-client-verify']

  it.each(DROPPED)('drops %s, and its underscore spelling', (name) => {
    const sent = requestHeaders(new Headers([[name, 'v'], [name.replace(/-/g, '_'), 'v'], ['accept', 'a']]))
    expect([...sent.keys()]).toEqual(['accept'])
  })

  it('keeps the others, X-Forwarded-For too (but not spelt with underscores), and underscore names no rule drops', () => {
    const sent = requestHeaders(new Headers([...KEPT.map((name): [string, string] => [name, 'v']), ['x_forwarded_for', '1.2.3.4'], ['x_request_id', '7']]))
    expect([...sent.keys()].sort()).toEqual([...KEPT, 'x_request_id'].sort())
  })

  it('drops what Connection names, but never a field the store decides by; a name that is no token (which Headers.delete would throw on) is ignored', () => {
    const incoming = new Headers({
      connection: ' X-Secret ,Cache-Control, pragma, set-cookie, vary, content-type, x-a b, , keep-alive',
      'x-secret': '1',
      'cache-control': 'no-store',
      pragma: 'no-cache',
      'set-cookie': 'a=1',
      vary: 'accept',
      'content-type': 'text/plain',
      'x-a': 'kept',
    })
    const sent = requestHeaders(incoming)
    expect(Object.fromEntries(sent)).toEqual({ 'cache-control': 'no-store', pragma: 'no-cache', 'set-cookie': 'a=1', vary: 'accept', 'content-type': 'text/plain', 'x-a': 'kept' })
  })
})

describe('responseHeaders', () => {
  it('undefined when there is nothing to drop', () => {
    expect(responseHeaders(new Headers({ 'content-type': 'text/plain', 'x-forwarded-host': 'a', host: 'b' }))).toBeUndefined()
  })

  it.each(['connection', 'keep-alive', 'proxy-authenticate', 'proxy-authorization', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade'])('drops %s (and what Connection names)', (name) => {
    const headers = responseHeaders(new Headers([[name, 'x-extra'], ['connection', 'x-extra, vary'], ['x-extra', '1'], ['vary', 'accept'], ['host', 'kept']]))
    expect(Object.fromEntries(headers!)).toEqual({ vary: 'accept', host: 'kept' })
  })
})

describe('configFromEnv', () => {
  const UPSTREAM = 'http://127.0.0.1:9'

  it('the defaults, and an empty var is unset', () => {
    const config = configFromEnv({ UPSTREAM_URL: 'https://api.test/v1/', METRICS_TOKEN: '', ROUTES: '', HEDGE_MS: '' })
    expect(config).toMatchObject({
      routes: [{ prefix: '/api/', upstreams: [{ origin: 'https://api.test', basePath: '/v1' }] }],
      timeout: 2_000,
      maxConcurrent: 50,
      failureThreshold: 5,
      window: 30_000,
      openDuration: 30_000,
      metricsToken: undefined,
      minReporters: 2,
      hedge: undefined,
      store: undefined,
      lastKnownGood: undefined,
      coordinator: undefined,
      fetch: undefined,
    })
    expect([...config.methods]).toEqual(['GET', 'HEAD'])
  })

  it('reads every var by its name; counts written as digits, spaces around them', () => {
    const config = configFromEnv({
      ROUTES: '{"/a": "http://a.test/base//", "/a/b/": ["http://b.test", "https://c.test:8443/x"], "/caf\u00e9 x/": "http://d.test"}',
      TIMEOUT_MS: ' 100 ',
      MAX_CONCURRENT: '7',
      FAILURE_THRESHOLD: 3,
      WINDOW_MS: '1000',
      OPEN_DURATION_MS: '2000',
      METHODS: ' get , Post ',
      METRICS_TOKEN: 'tok',
      MIN_REPORTERS: '4',
      HEDGE_MS: '50',
    })
    expect(config).toMatchObject({ timeout: 100, maxConcurrent: 7, failureThreshold: 3, window: 1000, openDuration: 2000, metricsToken: 'tok', minReporters: 4, hedge: 50 })
    expect([...config.methods]).toEqual(['GET', 'POST'])
    // Longest prefix first; a prefix without its trailing '/' gets one; written as the URL parser writes a path.
    expect(config.routes).toEqual([
      { prefix: '/caf%C3%A9%20x/', upstreams: [{ origin: 'http://d.test', basePath: '' }] },
      { prefix: '/a/b/', upstreams: [{ origin: 'http://b.test', basePath: '' }, { origin: 'https://c.test:8443', basePath: '/x' }] },
      { prefix: '/a/', upstreams: [{ origin: 'http://a.test', basePath: '/base' }] },
    ])
  })

  it.each([
    [{ UPSTREAM_URL: UPSTREAM, TIMEOUT_MS: 'abc' }, 'TypeError', 'TIMEOUT_MS', 'TIMEOUT_MS must be a number, got "abc"'],
    [{ UPSTREAM_URL: UPSTREAM, TIMEOUT_MS: '1234567890123456' }, 'TypeError', 'TIMEOUT_MS', 'TIMEOUT_MS must be a number, got "1234…" (16 characters)'],
    [{ UPSTREAM_URL: UPSTREAM, TIMEOUT_MS: String(2 ** 31) }, 'RangeError', 'TIMEOUT_MS', `TIMEOUT_MS must be at most 2147483647 ms, got ${2 ** 31}`],
    [{ UPSTREAM_URL: UPSTREAM, FAILURE_THRESHOLD: '0' }, 'RangeError', 'FAILURE_THRESHOLD', 'FAILURE_THRESHOLD must be a positive integer, got 0'],
    [{ UPSTREAM_URL: UPSTREAM, METHODS: 'GET,,POST' }, 'TypeError', 'METHODS', 'METHODS must be a comma-separated list of methods like "GET,HEAD", got "GET,,POST"'],
    [{ UPSTREAM_URL: UPSTREAM, METHODS: ['GET', 1] }, 'TypeError', 'METHODS', 'METHODS must be a comma-separated list of methods like "GET,HEAD", got an array'],
    [{ UPSTREAM_URL: UPSTREAM, METHODS: 5 }, 'TypeError', 'METHODS', 'METHODS must be a comma-separated list of methods like "GET,HEAD", got 5'],
    [{ UPSTREAM_URL: UPSTREAM, METHODS: 'GET,TRACE' }, 'RangeError', 'METHODS', 'METHODS must be methods fetch can send (not TRACE), got "GET,TRACE"'],
    [{ UPSTREAM_URL: UPSTREAM, METHODS: 'track' }, 'RangeError', 'METHODS', 'METHODS must be methods fetch can send (not TRACK), got "track"'],
    [{ UPSTREAM_URL: UPSTREAM, METHODS: 'connect' }, 'RangeError', 'METHODS', 'METHODS must be methods fetch can send (not CONNECT), got "connect"'],
    [{ UPSTREAM_URL: 'ftp://files.example' }, 'TypeError', 'UPSTREAM_URL', 'UPSTREAM_URL must be an absolute http(s) URL, got "ftp://files.example/"'],
    [{ UPSTREAM_URL: 'not a url' }, 'TypeError', 'UPSTREAM_URL', 'UPSTREAM_URL must be an absolute http(s) URL, got "not a url"'],
    [{ UPSTREAM_URL: 'http://user:pw@upstream.test' }, 'TypeError', 'UPSTREAM_URL', 'UPSTREAM_URL must be an http(s) URL without credentials, query or fragment, got "http://***@upstream.test/"'],
    [{ UPSTREAM_URL: 'http://user@upstream.test' }, 'TypeError', 'UPSTREAM_URL', 'UPSTREAM_URL must be an http(s) URL without credentials'],
    [{ UPSTREAM_URL: 'http://:pw@upstream.test' }, 'TypeError', 'UPSTREAM_URL', 'UPSTREAM_URL must be an http(s) URL without credentials'],
    [{ UPSTREAM_URL: 'http://upstream.test/?a' }, 'TypeError', 'UPSTREAM_URL', 'UPSTREAM_URL must be an http(s) URL without credentials, query or fragment, got "http://upstream.test/?***"'],
    [{ UPSTREAM_URL: 'http://upstream.test/#a' }, 'TypeError', 'UPSTREAM_URL', 'UPSTREAM_URL must be an http(s) URL without credentials, query or fragment, got "http://upstream.test/#***"'],
    [{}, 'TypeError', 'UPSTREAM_URL', 'UPSTREAM_URL (or ROUTES) must be set to the upstream\'s http(s) URL'],
    [{ ROUTES: '{"/api/": ' }, 'TypeError', 'ROUTES', 'ROUTES must be JSON like {"/api/": ["https://a.example"]}, got "{\\"/api/\\": " (SyntaxError)'],
    [{ ROUTES: '["http://a.test"]' }, 'TypeError', 'ROUTES', 'ROUTES must be an object of path prefix to origins, got an array'],
    [{ ROUTES: 'null' }, 'TypeError', 'ROUTES', 'ROUTES must be an object of path prefix to origins, got null'],
    [{ ROUTES: '"http://a.test"' }, 'TypeError', 'ROUTES', 'ROUTES must be an object of path prefix to origins, got "http://a.test/"'],
    [{ ROUTES: '{"/api/": []}' }, 'TypeError', 'ROUTES', 'ROUTES["/api/"] must be a non-empty array of http(s) URLs, got an array'],
    [{ ROUTES: '{"/api/": 5}' }, 'TypeError', 'ROUTES', 'ROUTES["/api/"] must be a non-empty array of http(s) URLs, got 5'],
    [{ ROUTES: '{"/api/": [5]}' }, 'TypeError', 'ROUTES', 'ROUTES["/api/"] must be an absolute http(s) URL, got 5'],
    [{ ROUTES: '{"api/": ["http://a.test"]}' }, 'TypeError', 'ROUTES', 'ROUTES keys must be path prefixes like "/api/", got "api/"'],
    ...['//evil/', '/a?b/', '/a#b/', '/a*/', '/a\\b/', '/a\u0000/', '/a\u001f/', '/a\u007f/', '/%2E/', '/%2e%2e/', '/../', '/./', '/a/..', '/a/.', '/..'].map(
      (prefix): [Record<string, unknown>, string, string, string] => [{ ROUTES: JSON.stringify({ [prefix]: 'http://a.test' }) }, 'TypeError', 'ROUTES', `ROUTES keys must be path prefixes like "/api/", got ${JSON.stringify(prefix)}`],
    ),
    [{ UPSTREAM_URL: UPSTREAM, MIN_REPORTERS: '0' }, 'RangeError', 'MIN_REPORTERS', 'MIN_REPORTERS must be a positive integer, got 0'],
    [{ UPSTREAM_URL: UPSTREAM, METRICS_TOKEN: 5 }, 'TypeError', 'METRICS_TOKEN', 'METRICS_TOKEN must be a string, got 5'],
  ])('%j: a %s naming %s', (env, type, option, message) => {
    let error: unknown
    try {
      configFromEnv(env)
    } catch (e) {
      error = e
    }
    expect((error as Error).name).toBe(type)
    expect((error as { option: string }).option).toBe(option)
    expect((error as Error).message.startsWith(message), (error as Error).message).toBe(true)
  })

  it('a value redacted in the message is redacted in its hint too, trimmed as the hint shows it', () => {
    const message = (env: Record<string, unknown>) => {
      try {
        configFromEnv({ UPSTREAM_URL: 'http://a.test', ...env })
      } catch (error) {
        return (error as Error).message
      }
    }
    expect(message({ MAX_CONCURRENT: '12345678901234567890' })).toBe('MAX_CONCURRENT must be a number, got "1234…" (20 characters) (a string: write … without quotes)')
    expect(message({ MAX_CONCURRENT: ' 12345678901234567890 ' })).toBe('MAX_CONCURRENT must be a number, got " 123…" (22 characters) (a string: write … without quotes)')
    expect(message({ MAX_CONCURRENT: ' 1e3 ' })).toBe('MAX_CONCURRENT must be a number, got " 1e3 " (a string: write 1e3 without quotes)')
    // A negative or a fraction in text is read as the number it is, and refused as that number: no hint to unquote it.
    expect(message({ MAX_CONCURRENT: ' -5 ' })).toBe('MAX_CONCURRENT must be a positive integer, got -5')
    expect(message({ MAX_CONCURRENT: ' '.repeat(13) })).toBe('MAX_CONCURRENT must be a number, got "    …" (13 characters)')
    expect(message({ MAX_CONCURRENT: ['5'] })).toBe('MAX_CONCURRENT must be a number, got an array')
    expect(message({ ROUTES: JSON.stringify({ '/a/': [['http://a.test']] }) })).toBe('ROUTES["/a/"] must be an absolute http(s) URL, got an array')
    expect(message({ METHODS: 'GET/' })).toMatch(/^METHODS must be a comma-separated list of methods/)
    expect(message({ METHODS: '/GET' })).toMatch(/^METHODS must be a comma-separated list of methods/)
  })

  it('the bindings: BREAKERS is the coordinator, LAST_KNOWN_GOOD the KV namespace', () => {
    const coordinator = { idFromName: () => ({}), get: () => ({}) }
    const kv = { get: async () => null, getWithMetadata: async () => ({ value: null, metadata: null }), put: async () => {}, delete: async () => {}, list: async () => ({ keys: [], list_complete: true }) }
    const config = configFromEnv({ UPSTREAM_URL: 'http://a.test', BREAKERS: coordinator, LAST_KNOWN_GOOD: kv })
    expect(config.coordinator).toBe(coordinator)
    expect(config.lastKnownGood).toBe(kv)
  })

  it('a prefix with dots that are no dot segment is taken', () => {
    expect(configFromEnv({ ROUTES: '{"/a.b/..c/": "http://a.test"}' }).routes.map((r) => r.prefix)).toEqual(['/a.b/..c/'])
  })
})

describe('resolveConfig', () => {
  it('a misspelt option names the option it is closest to; a far one does not', () => {
    expect(() => resolveConfig({ upstream: 'http://a.test', timeuot: 5 } as never)).toThrow(/timeuot.*: did you mean timeout\?$/)
    let error: unknown
    try {
      resolveConfig({ upstream: 'http://a.test', Hedges: 5 } as never)
    } catch (e) {
      error = e
    }
    expect((error as { option: string }).option).toBe('Hedges')
    expect((error as Error).message).toMatch(/did you mean hedge\?$/)
    expect(() => resolveConfig({ upstream: 'http://a.test', somethingElse: 5 } as never)).toThrow(/^(?![\s\S]*did you mean)/)
  })

  it('a name more than two edits from every option gets no suggestion', () => {
    expect(() => resolveConfig({ upstream: 'http://a.test', time: 5 } as never)).toThrow(/time is not an option \(known: [^)]*\)$/)
  })

  it('an option the schema checks is named as itself', () => {
    expect(() => resolveConfig({ upstream: 'http://a.test', timeout: -1 })).toThrow(/^timeout must be a positive integer, got -1$/)
  })

  it("store is 'memory' or an object with get, put, delete and clear", () => {
    const store = { get: async () => undefined, put: async () => {}, delete: async () => {}, clear: async () => {} }
    expect(resolveConfig({ upstream: 'http://a.test', store }).store).toBe(store)
    expect(resolveConfig({ upstream: 'http://a.test', store: 'memory' }).store).toBe('memory')
    expect(() => resolveConfig({ upstream: 'http://a.test', store: 'disk' as never })).toThrow(/^store must be 'memory' or a FallbackStore, got "disk"$/)
    for (const method of ['get', 'put', 'delete', 'clear'] as const) {
      const { [method]: _, ...missing } = store
      expect(() => resolveConfig({ upstream: 'http://a.test', store: missing as never })).toThrow(`store must be 'memory' or a FallbackStore (missing ${method}())`)
    }
  })

  it('store and lastKnownGood cannot both be set', () => {
    const kv = { get: async () => null, getWithMetadata: async () => ({ value: null, metadata: null }), put: async () => {}, delete: async () => {}, list: async () => ({ keys: [], list_complete: true }) }
    let error: unknown
    try {
      resolveConfig({ upstream: 'http://a.test', store: 'memory', lastKnownGood: kv as never })
    } catch (e) {
      error = e
    }
    expect((error as Error).message).toBe('store and lastKnownGood cannot both be set: both say where the copies live')
    expect((error as { option: string }).option).toBe('store')
    expect(() => configFromEnv({ UPSTREAM_URL: 'http://a.test', LAST_KNOWN_GOOD: kv })).not.toThrow()
  })

  it('options are named as options; an empty metrics token guards nothing; routes wins over upstream', () => {
    expect(() => resolveConfig({ upstream: 'ftp://a.test' })).toThrow('upstream must be an absolute http(s) URL, got "ftp://a.test"')
    expect(() => resolveConfig({ routes: { '/x/': [] } })).toThrow('routes["/x/"] must be a non-empty array of http(s) URLs, got []')
    expect(resolveConfig({ upstream: 'http://a.test', metricsToken: '' }).metricsToken).toBeUndefined()
    expect(resolveConfig({ upstream: 'http://a.test', metricsToken: 't' }).metricsToken).toBe('t')
    expect(resolveConfig({ upstream: 'ftp://ignored', routes: { '/r/': 'http://r.test' } }).routes).toEqual([{ prefix: '/r/', upstreams: [{ origin: 'http://r.test', basePath: '' }] }])
    expect(resolveConfig({ upstream: 'http://a.test', routes: {} }).routes).toEqual([{ prefix: '/api/', upstreams: [{ origin: 'http://a.test', basePath: '' }] }])
  })
})

describe('redact', () => {
  it.each([
    ['short', '"short"'],
    ['exactly12chr', '"exactly12chr"'],
    ['thirteen-char', '"thir…" (13 characters)'],
    ['https://u:p@a.test/x?k=v#f', '"https://***@a.test/x?***#***"'],
    ['https://u@a.test/x', '"https://***@a.test/x"'],
    ['https://:p@a.test/x', '"https://***@a.test/x"'],
    ['http://a.test', '"http://a.test/"'],
    ['HTTP://a.test', '"http://a.test/"'],
    ['x+y.z-1://h/p', '"x+y.z-1://h/p"'],
    ['http://[::1/abcdef', '"http…" (18 characters)'],
    [' http://a.test/x?k=v', '" htt…" (20 characters)'],
    [5, '5'],
    [null, 'null'],
    [[1], 'an array'],
    [{ a: 1 }, 'an object'],
  ])('%j → %s', (value, shown) => {
    expect(redact(value)).toBe(shown)
  })
})
