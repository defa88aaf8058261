// A ROUTES prefix is matched against the request's path as the URL parser writes it (non-ASCII and spaces
// percent-encoded): a prefix written as a person types it ("/café/", "/my files/") must match too, not answer 404 for good.
import { describe, expect, inject, it, vi } from 'vitest'
import worker, { configFromEnv } from '../../src/worker/index.js'

const [A] = inject('sharedUpstreamUrls')
const hits = async (path: string) => Number(await (await fetch(`${A}/__hits?path=${encodeURIComponent(path)}`)).text())

describe('a ROUTES prefix with characters a URL encodes', () => {
  it.each([
    ['/café/', '/caf%C3%A9/'],
    ['/my files/', '/my%20files/'],
    ['/数据', '/%E6%95%B0%E6%8D%AE/'],
    ['/trailing /', '/trailing%20/'],
  ])('%s is the prefix %s, and its requests reach the upstream', async (prefix, encoded) => {
    const run = `prefix-${crypto.randomUUID()}`
    const env = { ROUTES: JSON.stringify({ [prefix]: `${A}/${run}` }) }
    expect(configFromEnv(env).routes.map((route) => route.prefix)).toEqual([encoded])
    for (const path of [`${prefix.replace(/\/$/, '')}/x?q=1`, `${encoded}x`]) {
      const response = await worker.fetch(new Request(`http://proxy.test${path}`), env, undefined)
      expect(response.status, path).toBe(200)
      expect(await response.json()).toEqual({ user: null, path: `/${run}/x` })
    }
    expect(await hits(`/${run}/x`)).toBe(2)
  })
})

describe('a ROUTES prefix with a control character', () => {
  // The URL parser drops a tab or a line break: "/a/..\t/" would be "/a/../", which is "/", every path.
  it.each(['/a/..\t/', '/a\n/', '/a\u0000/'])('%j is refused at startup, naming ROUTES', (prefix) => {
    expect(() => configFromEnv({ ROUTES: JSON.stringify({ [prefix]: A }) })).toThrow('ROUTES keys must be path prefixes like "/api/"')
  })
})

describe('a ROUTES prefix written as a pattern', () => {
  // As Cloudflare's routes and the docs' "GET /api/*" write it: taken as a prefix, "/api/*" matched no request (404 for all).
  it.each(['/api/*', '/api*', '/*'])('%j is refused at startup, naming ROUTES', async (prefix) => {
    const env = { ROUTES: JSON.stringify({ [prefix]: A }) }
    expect(() => configFromEnv(env)).toThrow(`ROUTES keys must be path prefixes like "/api/", got ${JSON.stringify(prefix)}`)
    const logged = vi.spyOn(console, 'error').mockImplementation(() => {})
    try {
      const response = await worker.fetch(new Request('http://proxy.test/api/x'), env, undefined)
      expect([response.status, await response.json()]).toEqual([500, { error: 'config', var: 'ROUTES' }])
    } finally {
      logged.mockRestore()
    }
  })
})
