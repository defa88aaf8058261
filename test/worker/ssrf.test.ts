import { describe, expect, it } from 'vitest'
import { upstreamUrl } from '../../src/worker/route.js'
import { fakeUpstream, get, proxy } from './helpers.js'

// Every trick we know for turning a path prefix proxy into an open proxy. Whatever the proxy answers,
// the upstream must only ever see requests to the configured origin, under the configured base path.
const PATHS = [
  '/api//evil.test/x',
  '/api///evil.test/x',
  '/api/@evil.test/x',
  '/api/:@evil.test/x',
  '/api/user:pass@evil.test/x',
  '/api/%2F%2Fevil.test/x',
  '/api/%2f%2fevil.test/x',
  '/api/%5C%5Cevil.test/x',
  '/api/%5cevil.test',
  '/api/\\\\evil.test\\x',
  '/api/\\/evil.test/x',
  '/api/http://evil.test/x',
  '/api/https:evil.test/x',
  '/api/https:%2F%2Fevil.test/x',
  '/api/%68ttp://evil.test/',
  '/api/..%2F..%2Fevil.test',
  '/api/%2e%2e/%2e%2e/evil.test',
  '/api/../../evil.test/x',
  '/api/./../x',
  '/api/x/..%5C..%5Cadmin',
  '/api/%00@evil.test',
  '/api/%E2%80%AE@evil.test',
  '/api/x?next=http://evil.test/&url=//evil.test',
  '/api/x#@evil.test',
  '/api/\t//evil.test',
  '/api/%09//evil.test',
  '/api/127.0.0.1:80/x',
  '/api/[::1]/x',
]

const HEADERS: Record<string, string>[] = [
  { host: 'evil.test' },
  { 'x-forwarded-host': 'evil.test' },
  { 'x-original-url': 'http://evil.test/x', 'x-rewrite-url': 'http://evil.test/x' },
  { forwarded: 'host=evil.test;proto=http' },
  { 'x-forwarded-proto': 'gopher', 'x-forwarded-port': '25' },
]

describe.each([
  { upstream: 'http://upstream.test', origin: 'http://upstream.test', base: '/' },
  { upstream: 'https://upstream.test:8443/v1', origin: 'https://upstream.test:8443', base: '/v1/' },
])('SSRF with upstream $upstream', ({ upstream: configured, origin, base }) => {
  it.each(PATHS)('%s reaches no other host', async (path) => {
    const upstream = fakeUpstream()
    const handler = proxy({ upstream: configured, fetch: upstream.fetch })
    const response = await handler(get(path))
    expect([200, 400, 404]).toContain(response.status)
    for (const request of upstream.seen) {
      const url = new URL(request.url)
      expect(url.origin).toBe(origin)
      expect(url.pathname.startsWith(base)).toBe(true)
      expect(url.username + url.password).toBe('')
    }
  })

  it.each(HEADERS)('forged headers %j reach no other host', async (headers) => {
    const upstream = fakeUpstream()
    const handler = proxy({ upstream: configured, fetch: upstream.fetch })
    const response = await handler(get('/api/data', { headers }))
    expect(response.status).toBe(200)
    expect(upstream.seen).toHaveLength(1)
    expect(new URL(upstream.seen[0].url).origin).toBe(origin)
    expect(upstream.seen[0].headers.has('host')).toBe(false)
    expect(upstream.seen[0].headers.has('x-forwarded-host')).toBe(false)
  })

  it('a path that the parser resolves out of /api/ is not proxied at all', async () => {
    const upstream = fakeUpstream()
    const handler = proxy({ upstream: configured, fetch: upstream.fetch })
    expect((await handler(get('/api/../../evil.test/x'))).status).toBe(404)
    expect((await handler(get('/api/%2e%2e/admin'))).status).toBe(404)
    expect(upstream.seen).toHaveLength(0)
  })
})

describe('encoded dot segments, which an upstream that decodes the path would resolve out of the base path', () => {
  it.each([
    '/api/..%2f..%2fadmin',
    '/api/..%2F..%2Fadmin',
    '/api/%2e%2e%2fadmin',
    '/api/.%2e%2fadmin',
    '/api/..%5cadmin',
    '/api/x/..%5C..%5Cadmin',
    '/api/%252e%252e/admin',
    '/api/%252e%252e%252fadmin',
    '/api/x/%2e%2e%5c',
    '/api/..;/admin',
    '/api/x/%2e%2e;jsessionid=1/admin',
    // Tomcat drops the path parameter before decoding, whatever it holds: a newline in it still leaves `..`.
    '/api/..;%0a/admin',
    '/api/x/%2e%2e;%0d%0a/admin',
    // Where a path is a C string, a NUL ends it; IIS decodes %u escapes.
    '/api/..%00/admin',
    '/api/x/%2e%2e%00.html/admin',
    '/api/%u002e%u002e/admin',
    '/api/%u002e%u002e%u002fadmin',
    '/api/dir%2F..hidden',
    '/api/a%2F.%2Fb',
    // Overlong UTF-8, which a lax decoder reads as `.`, `/` or `\` (and IIS's %c1%1c, a lead byte with any byte after it).
    '/api/%c0%ae%c0%ae/admin',
    '/api/%C0%AE%C0%AE%C0%AFadmin',
    '/api/..%c0%afadmin',
    '/api/..%c1%9cadmin',
    '/api/..%c1%1cadmin',
    '/api/%e0%80%ae%e0%80%ae/admin',
    '/api/x/%f0%80%80%ae%f0%80%80%ae/admin',
    '/api/%25c0%25ae%25c0%25ae/admin',
    // RFC 2279's five- and six-byte forms, which the IIS Unicode exploit's scanners sent too.
    '/api/..%f8%80%80%80%afadmin',
    '/api/%fc%80%80%80%80%ae%fc%80%80%80%80%ae/admin',
    // Full-width and other forms that NFKC (or Windows' best-fit conversion) turns into `.`, `/` or `\`.
    '/api/%ef%bc%8e%ef%bc%8e/admin',
    '/api/．．/admin',
    '/api/..%ef%bc%8fadmin',
    '/api/..%EF%BC%BCadmin',
    '/api/%e2%80%a5/admin',
    '/api/%ef%b9%92%ef%b9%92/admin',
    '/api/..%e2%88%95admin',
    '/api/..%e2%88%96admin',
    '/api/%uff0e%uff0e/admin',
    // A `%` only a lax or normalizing decoder reads (overlong `%c0%a5`, full-width `％`), which a chain that decodes twice decodes again.
    '/api/%c0%a52e%c0%a52e/admin',
    '/api/..%c0%a55cadmin',
    '/api/%ef%bc%85%ef%bc%92%ef%bd%85%ef%bc%85%ef%bc%92%ef%bd%85/admin',
    '/api/..%ef%bc%85%ef%bc%92%ef%bd%86admin',
  ])('%s is refused with 400 bad_path, the upstream not called', async (path) => {
    const upstream = fakeUpstream()
    const handler = proxy({ upstream: 'http://upstream.test/v1/public', fetch: upstream.fetch })
    const response = await handler(get(path))
    expect(response.status).toBe(400)
    expect(await response.json()).toEqual({ error: 'bad_path' })
    expect(upstream.seen).toHaveLength(0)
  })

  it('an encoded slash in an ordinary segment (GitLab\'s project and file ids) still goes through', async () => {
    const upstream = fakeUpstream()
    const handler = proxy({ upstream: 'http://upstream.test/v4', fetch: upstream.fetch })
    for (const path of ['/api/projects/group%2Fproject/repository/files/src%2Fmain.ts/raw', '/api/files/v1.2%2F.hidden', '/api/a%2F.well-known', '/api/notes/...'])
      expect((await handler(get(path))).status, path).toBe(200)
    expect(upstream.seen.map((r) => new URL(r.url).pathname)).toEqual([
      '/v4/projects/group%2Fproject/repository/files/src%2Fmain.ts/raw',
      '/v4/files/v1.2%2F.hidden',
      '/v4/a%2F.well-known',
      '/v4/notes/...',
    ])
  })

  it('non-ASCII names, and dots or slashes that are not beside each other, still go through', async () => {
    const upstream = fakeUpstream()
    const handler = proxy({ upstream: 'http://upstream.test/v4', fetch: upstream.fetch })
    const paths = ['/api/café/menu', '/api/日本語/x', '/api/notes/%E2%80%A6', '/api/a%ef%bc%8fb', '/api/v1%ef%bc%8e2', '/api/%c3%a9t%c3%a9', '/api/づ..txt', '/api/%C2%A5100', '/api/100%25%E2%80%A6', '/api/a%ef%bc%85%ef%bc%92%ef%bc%90b']
    for (const path of paths) expect((await handler(get(path))).status, path).toBe(200)
    expect(upstream.seen).toHaveLength(paths.length)
  })
})

describe('upstreamUrl, on raw strings no URL parser has cleaned', () => {
  const upstream = { origin: 'http://upstream.test', basePath: '/v1' }
  it.each([
    ['@evil.test/x', undefined],
    ['evil.test', undefined],
    ['\\\\evil.test', undefined],
    ['/..', undefined],
    ['/../admin', undefined],
    ['/%2e%2e/admin', undefined],
    ['/x/../../admin', undefined],
    ['//evil.test/x', 'http://upstream.test/v1//evil.test/x'],
    ['/@evil.test', 'http://upstream.test/v1/@evil.test'],
    ['/\\evil.test', 'http://upstream.test/v1/\\evil.test'],
    ['/data', 'http://upstream.test/v1/data'],
  ])('%s → %s', (rest, expected) => {
    const target = upstreamUrl(upstream, rest, '')
    expect(target).toBe(expected)
    if (target !== undefined) expect(new URL(target).origin).toBe(upstream.origin)
  })

  it('never lets a query change the host', () => {
    const target = upstreamUrl({ origin: 'http://upstream.test', basePath: '' }, '/x', '?@evil.test/#//evil.test')
    expect(new URL(target!).origin).toBe('http://upstream.test')
  })
})
