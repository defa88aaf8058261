// Hostile requests, generated: whatever a client sends, the proxy fetches only configured origins, under their base
// paths, the path and query it was asked for, without hop-by-hop headers; its own endpoints need the token; what one
// user was answered is never served to another; no request header turns an upstream's answer into another outcome.
import fc from 'fast-check'
import { env } from 'cloudflare:workers'
import { describe, expect, inject, it } from 'vitest'
import type { KvNamespaceLike } from '../../src/store/kv.js'
import { createProxy } from '../../src/worker/index.js'
import { readings } from '../dot-readings.js'
import { context, fakeUpstream, PROXY, snapshotOf } from './helpers.js'

const RUNS = 250
/**
 * vitest's "no timeout" for the properties below: each runs to its end, however slow the machine. A run awaits only the
 * proxy, its stores and its upstreams (in process, or the shared one on 127.0.0.1), each bounded by its work, never a
 * clock; under the worker project's default 5 s a property of the stores (1.7 s on a loaded 2-core machine) was a race
 * with the machine's speed.
 */
const NO_TIME_LIMIT = 0

/** Prefixes that are prefixes of each other, one pool, one IPv6 origin, base paths with and without a slash. */
const ROUTES = {
  '/api/': 'http://a.test/base',
  '/api/v1/': ['http://b.test:8080/v1/inner/', 'http://[::1]:9000'],
  '/apiv2': 'https://c.test',
}
/** Longest first, as the proxy matches them; base paths without their trailing slash. */
const RESOLVED = Object.entries(ROUTES)
  .map(([prefix, origins]) => ({
    prefix: prefix.endsWith('/') ? prefix : `${prefix}/`,
    upstreams: [origins].flat().map((o) => ({ origin: new URL(o).origin, base: new URL(o).pathname.replace(/\/+$/, '') })),
  }))
  .sort((a, b) => b.prefix.length - a.prefix.length)
const TOKEN = 'm3trics-T0KEN'

const EVIL = ['evil.test', '//evil.test', '/\\evil.test', '\\\\evil.test', '@evil.test', 'user:pass@evil.test', 'http://evil.test', 'https:evil.test', 'evil.test:80', '127.0.0.1', '2130706433', '0x7f.1', '[::1]', '[::ffff:127.0.0.1]', 'ｅｖｉｌ．ｔｅｓｔ', 'xn--vil-epa.test', 'évil.test']
const TRICKS = ['..', '.', '%2e%2e', '%2E%2e', '.%2e', '%2e', '%252e%252e', '%25252e%25252e', '%2F', '%2f%2f', '%5C', '%5c%5c', '..%2f', '..%5c', '%2e%2e%2f', '..;', '..;x', ';', ';x=1', '%3B', '\t', '\n', '\r', '%09', '%0a', '%00', ' ', '%20', '?', '#', '%3F', '%23', ':', '%3A', '@', '%40', '．．', '%EF%BC%8E%EF%BC%8E', '‥', '%c0%ae%c0%ae', '%u002e%u002e', '%e0%80%ae%e0%80%ae', '%F0%80%80%AE', '%c0%af', '%C1%9C', '%c1%1c', '%25c0%25ae', '%ef%bc%8f', '%EF%BC%BC', '／', '＼', '﹒﹒', '%e2%80%a5', '%uff0e%uff0e', '%e2%88%95', '∕', '∖', '~', '%7e', 'a', 'data', 'v1', 'api', 'apiv2']
const segment = fc.oneof(fc.constantFrom(...EVIL), fc.constantFrom(...TRICKS), fc.constantFrom(...TRICKS).chain((t) => fc.constantFrom(...EVIL).map((e) => t + e)), fc.string({ maxLength: 6, unit: 'binary' }))
/** A long path now and then: 3000 characters in one segment or in many. */
const long = fc.constantFrom('x'.repeat(3000), '../'.repeat(700), '%2e%2e/'.repeat(400), 'a/'.repeat(1500))
const start = fc.oneof({ weight: 6, arbitrary: fc.constantFrom('/api', '/api/v1', '/apiv2') }, { weight: 1, arbitrary: fc.constantFrom('/API', '/api%2F', '/ap', '', '/', '/v1/inner', '/base') })
const part = fc.tuple(fc.constantFrom('/', '/', '/', '\\', '', '//'), fc.oneof({ weight: 30, arbitrary: segment }, { weight: 1, arbitrary: long })).map(([sep, s]) => sep + s)
const path = fc.tuple(start, fc.array(part, { maxLength: 6 }), fc.constantFrom('', '', '/')).map(([head, parts, end]) => head + parts.join('') + end)
const query = fc.oneof(fc.constant(''), fc.constantFrom('?', '?x=1', '?next=http://evil.test/', '?@evil.test', '?url=//evil.test&a=%2F', `?token=${TOKEN}`, '?a=1#frag', '#@evil.test'), fc.string({ maxLength: 8 }).map((s) => `?${s}`))

const HEADER_NAMES = ['host', 'x-forwarded-host', 'forwarded', 'cf-connecting-ip', 'x-forwarded-for', 'x-real-ip', 'x-forwarded-proto', 'x-original-url', 'x-rewrite-url', 'x-http-method-override', 'x-forwarded-prefix', 'connection', 'keep-alive', 'te', 'trailer', 'upgrade', 'proxy-authorization', 'proxy-connection', 'authorization', 'cookie', 'x-api-key', 'x-custom', 'cache-control', 'expect', 'true-client-ip', 'x-client-ip', 'cf-visitor', 'x-forwarded-user', 'remote-user', 'x-ms-client-principal-name', 'client-cert', 'x-ssl-client-cert', 'X-SSL-Client-Verify', 'x-forwarded-client-cert', 'x-arr-clientcert', 'signature', 'signature-input']
/** What the upstream must never get from a client: its claims of the host, scheme, address, user, certificate or signature. */
const CLAIMS = ['host', 'x-forwarded-host', 'x-forwarded-proto', 'forwarded', 'cf-visitor', 'cf-connecting-ip', 'x-real-ip', 'true-client-ip', 'x-client-ip', 'x-forwarded-user', 'remote-user', 'x-ms-client-principal-name', 'client-cert', 'x-ssl-client-cert', 'x-ssl-client-verify', 'x-forwarded-client-cert', 'x-arr-clientcert', 'signature', 'signature-input']
const HEADER_VALUES = ['evil.test', 'for=1.2.3.4;host=evil.test;proto=http', '127.0.0.1', '::1', 'http://evil.test/admin', '/admin', 'DELETE', 'keep-alive, x-custom', 'cookie', 'authorization, x-api-key', 'close', 'websocket', `Bearer ${TOKEN}`, 'Basic YTpi', 'sid=alice', 'no-store', '100-continue', 'admin', 'SUCCESS', '{"scheme":"http"}', 'sig1=("@method");keyid="admin"']
const headers = fc.array(fc.tuple(fc.constantFrom(...HEADER_NAMES), fc.constantFrom(...HEADER_VALUES)), { maxLength: 6 })
const method = fc.oneof({ weight: 4, arbitrary: fc.constantFrom('GET', 'HEAD') }, { weight: 1, arbitrary: fc.constantFrom('POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH', 'patch', 'get', 'TRACE', 'CONNECT', 'PROPFIND', 'PURGE', 'M-SEARCH') })

/** The request as a client's fetch would build it, or undefined when fetch refuses to (a forbidden method, a bad URL). */
function build(url: string, init: RequestInit): Request | undefined {
  try {
    return new Request(url, init)
  } catch {
    return undefined
  }
}

/** Every percent-escape decoded, `times` times over, as an upstream (or a chain of them) might. */
function decoded(path: string, times = 4): string {
  for (let i = 0; i < times; i++) path = path.replace(/%([0-9a-f]{2})/gi, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)))
  return path
}

/** The route the parsed path belongs to (the longest prefix, or the prefix without its slash), and the suffix from its '/'. */
function routeOf(pathname: string) {
  for (const route of RESOLVED) {
    if (pathname.startsWith(route.prefix)) return { route, rest: pathname.slice(route.prefix.length - 1) }
    if (`${pathname}/` === route.prefix) return { route, rest: '/' }
  }
  return undefined
}

const HOP_BY_HOP = ['connection', 'keep-alive', 'proxy-authenticate', 'proxy-authorization', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade']

describe('hostile requests to the proxy (generated)', () => {
  it('fetch only configured origins, under their base path, with the path suffix and query asked for, and never a hop-by-hop header', async () => {
    const upstream = fakeUpstream()
    const handler = createProxy({ routes: ROUTES, methods: 'GET,HEAD,POST,PURGE', store: 'memory', metricsToken: TOKEN, fetch: upstream.fetch })
    await fc.assert(
      fc.asyncProperty(path, query, headers, method, async (p, q, h, m) => {
        const request = build(PROXY + p + q, { method: m, headers: h })
        if (request === undefined) return
        upstream.seen.length = 0
        const response = await handler(request)
        await response.body?.cancel()
        const url = new URL(request.url)
        const match = routeOf(url.pathname)
        const endpoint = ['/health', '/metrics', '/metrics.json', '/events'].includes(url.pathname)
        expect(upstream.seen.length).toBeLessThanOrEqual(1)
        if (endpoint || match === undefined) {
          expect(upstream.seen).toEqual([])
          if (!endpoint) expect(response.status).toBe(404)
          return
        }
        if (!['GET', 'HEAD', 'POST', 'PURGE'].includes(request.method)) {
          expect(response.status).toBe(405)
          expect(upstream.seen).toEqual([])
          return
        }
        if (upstream.seen.length === 0) {
          expect(response.status).toBe(400)
          return
        }
        const sent = upstream.seen[0]!
        const target = new URL(sent.url)
        const upstreamOf = match.route.upstreams.find((u) => u.origin === target.origin)
        // The origin is one of this route's, the path its base path + the suffix, the query the client's.
        expect(upstreamOf, sent.url).toBeDefined()
        expect(target.username + target.password).toBe('')
        expect(target.pathname).toBe(upstreamOf!.base + match.rest)
        expect(target.search).toBe(url.search)
        expect(sent.method).toBe(request.method)
        // No segment an upstream that decodes the path (up to four times, as bytes or as lax UTF-8) reads as a dot segment.
        for (const reading of readings(decoded(target.pathname.slice(upstreamOf!.base.length)))) expect(reading.split(/[/\\]/).map((s) => s.split(';')[0]), reading).not.toContain('..')
        // No hop-by-hop header, nor one the client's Connection named (bar the ones the fallback decides by), nor a claim.
        const named = (request.headers.get('connection') ?? '').split(',').map((n) => n.trim().toLowerCase()).filter((n) => /^[!#$%&'*+.^_`|~0-9a-z-]+$/.test(n))
        for (const name of [...HOP_BY_HOP, ...CLAIMS, 'expect', 'x-original-url', 'x-rewrite-url', 'x-http-method-override', 'x-forwarded-prefix', ...named.filter((n) => n !== 'cache-control')]) {
          expect(sent.headers.has(name), name).toBe(false)
        }
        // The client's own credentials and X-Forwarded-For pass as sent, unless its Connection named them; the proxy adds none of its own.
        for (const name of ['authorization', 'cookie', 'x-api-key', 'x-forwarded-for']) if (!named.includes(name)) expect(sent.headers.get(name)).toBe(request.headers.get(name))
        const outbound = sent.url + JSON.stringify([...sent.headers])
        if (!(request.url + JSON.stringify([...request.headers])).includes(TOKEN)) expect(outbound).not.toContain(TOKEN)
      }),
      { numRuns: RUNS },
    )
  }, NO_TIME_LIMIT)

  it('/metrics, /metrics.json and /events answer only the right token, in any variant of path, method and credentials', async () => {
    const upstream = fakeUpstream()
    const handler = createProxy({ routes: { '/api/': 'http://a.test', '/m/': 'http://m.test' }, store: 'memory', metricsToken: TOKEN, fetch: upstream.fetch })
    const endpoint = fc.constantFrom('/metrics', '/metrics.json', '/events', '/health')
    const variant = fc.constantFrom<(p: string) => string>(
      (p) => p,
      (p) => p,
      (p) => p,
      (p) => p,
      (p) => p.toUpperCase(),
      (p) => p[0] + p[1]!.toUpperCase() + p.slice(2),
      (p) => `${p}/`,
      (p) => `/${p}`,
      (p) => `${p}/.`,
      (p) => `/x/..${p}`,
      (p) => `/x/%2e%2e${p}`,
      (p) => `${p};x`,
      (p) => `${p}%00`,
      (p) => `${p}%20`,
      (p) => `${p}\t`,
      (p) => `/%${p.charCodeAt(1).toString(16)}${p.slice(2)}`,
      (p) => `/api${p}`,
      (p) => `/m${p}`,
    )
    const wrong = [TOKEN.toUpperCase(), TOKEN.slice(0, -1), `${TOKEN.slice(0, -1)}X`, `x${TOKEN.slice(1)}`, `${TOKEN}x`, `${TOKEN} x`, 'x'.repeat(TOKEN.length), '', `%${TOKEN}`, encodeURIComponent(`${TOKEN} `)]
    const authorization = fc.constantFrom(undefined, undefined, undefined, `Bearer ${TOKEN}`, `Bearer ${TOKEN}`, `bearer ${TOKEN}`, `Bearer\t${TOKEN}`, `Bearer  ${TOKEN} `, `Basic ${TOKEN}`, TOKEN, `Bearer ${TOKEN},Bearer x`, ...wrong.map((w) => `Bearer ${w}`))
    const search = fc.constantFrom('', '', `?token=${TOKEN}`, `?token=${TOKEN}`, `?TOKEN=${TOKEN}`, `?token=${TOKEN}&token=x`, `?token=x&token=${TOKEN}`, `?access_token=${TOKEN}`, `?token=${encodeURIComponent(TOKEN)}`, ...wrong.map((w) => `?token=${w}`))
    const method = fc.constantFrom('GET', 'HEAD', 'OPTIONS', 'POST', 'get', 'head', 'DELETE')
    await fc.assert(
      fc.asyncProperty(endpoint, variant, search, authorization, method, async (name, vary, query, auth, m) => {
        const request = build(PROXY + vary(name) + query, { method: m, headers: auth === undefined ? {} : { authorization: auth } })
        if (request === undefined) return
        upstream.seen.length = 0
        const response = await handler(request)
        const body = request.method === 'GET' && response.headers.get('content-type')?.startsWith('text/event-stream') ? '' : await response.text()
        await response.body?.cancel().catch(() => {})
        const url = new URL(request.url)
        const own = ['/metrics', '/metrics.json', '/events'].includes(url.pathname)
        // The one right header, or (for /events only) the first token parameter when there is no Authorization header.
        const bearer = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(request.headers.get('authorization') ?? '')
        const right = bearer !== null ? bearer[1] === TOKEN : url.pathname === '/events' && url.searchParams.get('token') === TOKEN
        const shows = response.status === 200 && url.pathname !== '/health' && upstream.seen.length === 0
        expect(shows).toBe(own && right && (request.method === 'GET' || request.method === 'HEAD'))
        // README, METRICS_TOKEN: "`/health` is never behind the token, and it names the configured origins".
        if (!shows && url.pathname !== '/health') for (const secret of ['requests_total', '"breakers"', '"totals"', 'event: snapshot']) expect(body).not.toContain(secret)
        if (own && !right && (request.method === 'GET' || request.method === 'HEAD')) expect(response.status).toBe(401)
        // What is not the proxy's own goes to a route's upstream or nowhere, never with the token changed.
        for (const sent of upstream.seen) expect(new URL(sent.url).origin).toMatch(/^http:\/\/(a|m)\.test$/)
      }),
      { numRuns: RUNS },
    )
  }, NO_TIME_LIMIT)

})

// What one user was answered: personal by the request (a credential, README's list) or by the response (private,
// Set-Cookie), or not to be kept at all (no-store on either side, Vary: *), in the spellings an upstream may use.
const CREDENTIALS: [string, string][] = [['authorization', 'Bearer alice'], ['cookie', 'sid=alice'], ['x-api-key', 'alice'], ['X-Auth-Token', 'alice'], ['x-session-id', 'alice'], ['x-csrf-token', 'alice'], ['jwt', 'alice'], ['proxy-authorization', 'Basic YTpi'], ['api_key', 'alice']]
const OTHER_REQUEST: [string, string][] = [['accept-language', 'fr'], ['accept-language', 'de'], ['x-user', 'alice'], ['cache-control', 'no-store'], ['cache-control', 'NO-STORE, max-age=0'], ['connection', 'cookie'], ['connection', 'authorization, cache-control']]
const PERSONAL: [string, string][] = [['cache-control', 'private'], ['cache-control', 'PRIVATE'], ['cache-control', 'public, private'], ['cache-control', 'private="set-cookie", max-age=60'], ['cache-control', ' private ,max-age=60'], ['set-cookie', 'sid=alice; Path=/'], ['set-cookie2', 'sid=alice']]
const NOT_KEPT: [string, string][] = [['cache-control', 'no-store'], ['cache-control', 'No-Store'], ['cache-control', 'max-age=0,no-store'], ['cache-control', 'no-cache, no-store, must-revalidate'], ['vary', '*'], ['vary', 'Accept, *']]
const PUBLIC: [string, string][] = [['cache-control', 'public, max-age=60'], ['cache-control', 'no-cache'], ['cache-control', 's-maxage=10'], ['vary', 'Accept-Language'], ['vary', 'Cookie'], ['vary', 'Authorization, Accept-Language'], ['content-type', 'application/json'], ['connection', 'set-cookie, cache-control, vary']]

interface Step {
  path: number
  up: boolean
  request: [string, string][]
  response: [string, string][]
}
const step: fc.Arbitrary<Step> = fc.record({
  path: fc.nat(2),
  up: fc.boolean(),
  request: fc.array(fc.constantFrom(...CREDENTIALS, ...OTHER_REQUEST), { maxLength: 3 }),
  response: fc.array(fc.constantFrom(...PERSONAL, ...NOT_KEPT, ...PUBLIC, ...PUBLIC), { maxLength: 3 }),
})

const has = (pairs: [string, string][], list: [string, string][]) => pairs.some(([n, v]) => list.some(([ln, lv]) => ln === n && lv === v))
const isCredential = (name: string) => /auth|token|key|session|secret|pass|cookie|jwt|[cx]srf/i.test(name)

describe.each([
  { store: 'memory', config: { store: 'memory' as const }, runs: RUNS },
  // KV and Cache API writes are slower: fewer runs.
  { store: 'KV', config: { lastKnownGood: env.LAST_KNOWN_GOOD as KvNamespaceLike }, runs: Math.ceil(RUNS / 5) },
  { store: 'the Cache API', config: {}, runs: Math.ceil(RUNS / 5) },
])('what one user was answered ($store)', ({ config, runs }) => {
  it('is never served to another request, and no copy is served that the rules say not to keep', async () => {
    let run = 0
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 2, maxLength: 12 }), async (steps) => {
        // Each run its own URLs, as KV keeps its keys across runs.
        run++
        const answered: { keep: boolean; request: Headers; response: Headers }[] = []
        let current: Step
        const upstream = fakeUpstream(() => {
          if (!current.up) return new Response('down', { status: 503 })
          const headers = new Headers()
          for (const [name, value] of current.response) headers.append(name, value)
          return new Response(JSON.stringify({ id: answered.length - 1 }), { headers })
        })
        const handler = createProxy({ upstream: 'http://private.test', fetch: upstream.fetch, ...config })
        const ctx = context()
        for (const s of steps) {
          current = s
          const request = new Request(`${PROXY}/api/r${run}/p${s.path}`, { headers: s.request })
          const sent = new Headers(s.request)
          const personal = [...sent.keys()].some(isCredential) || has(s.response, PERSONAL)
          const keep = !personal && !has(s.response, NOT_KEPT) && !/no-store/i.test(sent.get('cache-control') ?? '')
          answered.push({ keep, request: sent, response: new Headers(s.response) })
          const response = await handler(request, undefined, ctx)
          const text = await response.text()
          await ctx.settle()
          if (response.headers.get('x-resilient-source') !== 'fallback') continue
          const copy = answered[(JSON.parse(text) as { id: number }).id]!
          // Only a copy of an answer that was everyone's; no Set-Cookie; Vary's request headers as they were.
          expect(copy.keep, JSON.stringify([[...copy.request], [...copy.response]])).toBe(true)
          expect(response.headers.has('set-cookie') || response.headers.has('set-cookie2')).toBe(false)
          for (const name of (copy.response.get('vary') ?? '').split(',').map((n) => n.trim()).filter((n) => n !== '')) expect(sent.get(name)).toBe(copy.request.get(name))
        }
      }),
      { numRuns: runs },
    )
  }, NO_TIME_LIMIT)
})

describe('request headers against a real upstream on 127.0.0.1', () => {
  const [A] = inject('sharedUpstreamUrls')
  const TRANSPORT: [string, string][] = [
    ['expect', '100-continue'], ['content-length', '5'], ['content-length', 'abc'], ['transfer-encoding', 'chunked'], ['te', 'trailers'], ['upgrade', 'h2c'],
    ['connection', 'upgrade, http2-settings'], ['http2-settings', 'AAMAAABkAARAAAAAAAIAAAAA'], ['range', 'bytes=0-0'], ['if-none-match', '*'], ['accept-encoding', 'x-bogus'],
    ['content-encoding', 'gzip'], ['content-type', 'multipart/form-data'], ['keep-alive', 'timeout=1'], ['x-large', 'a'.repeat(6000)], ['cache-control', 'no-cache'],
  ]
  it("no header a client sends makes a good answer count as a failure, or a failing upstream's answer as a success", async () => {
    await (await fetch(`${A}/__down?path=${encodeURIComponent('/generated/down')}`)).body?.cancel()
    await fc.assert(
      // Each header at most once: three copies of x-large are over Node's 16 KiB header limit, and the upstream itself answers 431.
      fc.asyncProperty(fc.shuffledSubarray(TRANSPORT, { maxLength: 4 }), fc.boolean(), async (headers, down) => {
        const handler = createProxy({ upstream: A, store: 'memory' })
        const response = await handler(new Request(`${PROXY}/api/generated/${down ? 'down' : 'up'}`, { headers }))
        await response.body?.cancel().catch(() => {})
        const [breaker] = (await snapshotOf(handler)).breakers
        if (down) expect([response.status, breaker?.failures]).toEqual([503, 1])
        else expect(breaker?.failures ?? 0).toBe(0)
      }),
      { numRuns: Math.ceil(RUNS / 5) },
    )
  }, NO_TIME_LIMIT)
})
