// A pool listing one origin twice, two ROUTES keys that are one prefix, a HEDGE_MS no hedge can wait for: refused by
// configFromEnv (naming the var) and by createProxy's options (naming the option), in Node, spelling by spelling.
import { describe, expect, it } from 'vitest'
import { configFromEnv, resolveConfig } from '../src/worker/config.js'

/** The error configFromEnv throws for these vars, as [type, var, message]. */
function refusal(env: Record<string, unknown>): [string, string, string] | undefined {
  try {
    configFromEnv(env)
    return undefined
  } catch (error) {
    return [(error as Error).name, (error as { option: string }).option, (error as Error).message]
  }
}

describe('a pool that lists one origin twice', () => {
  it.each([
    [['https://a.test', 'https://a.test/'], '"https://a.test/"'],
    [['https://a.test/v1', 'https://b.test', 'https://a.test/v1//'], '"https://a.test/"'],
    [['https://A.Test:443', 'https://a.test'], '"https://a.test/"'],
    [['http://a.test:80/x', 'http://a.test/y'], '"http://a.test/"'],
  ])('%j is refused, naming ROUTES and the origin', (pool, shown) => {
    expect(refusal({ ROUTES: JSON.stringify({ '/api/': pool }) })).toEqual(['TypeError', 'ROUTES', `ROUTES["/api/"] must list each origin once (a retry or a hedge goes to another origin), got ${shown} twice`])
  })

  it('as an option: a TypeError naming routes', () => {
    expect(() => resolveConfig({ routes: { '/api/': ['https://a.test', 'https://a.test/'] } })).toThrow(/^routes\["\/api\/"\] must list each origin once \(a retry or a hedge goes to another origin\), got "https:\/\/a.test" twice$/)
  })

  it('distinct origins (another scheme or port is another origin), and one origin in two routes, are taken', () => {
    const config = configFromEnv({ ROUTES: JSON.stringify({ '/api/': ['http://a.test', 'https://a.test', 'http://a.test:8080'], '/img/': 'http://a.test' }) })
    expect(config.routes.map((route) => route.upstreams.length)).toEqual([3, 1])
  })
})

describe('two ROUTES keys that are one prefix', () => {
  it.each([
    ['/api', '/api/', '/api/'],
    ['/café/', '/caf%C3%A9/', '/caf%C3%A9/'],
    ['/my files', '/my%20files/', '/my%20files/'],
  ])('%j and %j are refused, naming ROUTES', (first, second, prefix) => {
    const message = `ROUTES keys must be distinct prefixes, got ${JSON.stringify(first)} and ${JSON.stringify(second)}, both the prefix ${JSON.stringify(prefix)}`
    expect(refusal({ ROUTES: JSON.stringify({ [first]: 'http://a.test', [second]: 'http://b.test' }) })).toEqual(['TypeError', 'ROUTES', message])
  })

  it('as an option: a TypeError naming routes', () => {
    expect(() => resolveConfig({ routes: { '/api/': 'http://a.test', '/api': 'http://b.test' } })).toThrow(/^routes keys must be distinct prefixes, got "\/api\/" and "\/api", both the prefix "\/api\/"$/)
  })

  it('prefixes of each other are distinct, and taken', () => {
    expect(configFromEnv({ ROUTES: '{"/api": "http://a.test", "/api/v1": "http://b.test", "/apiv2": "http://c.test"}' }).routes.map((r) => r.prefix)).toEqual(['/api/v1/', '/apiv2/', '/api/'])
  })
})

describe('HEDGE_MS not below the attempt timeout', () => {
  const POOL = JSON.stringify({ '/api/': ['http://a.test', 'http://b.test'] })

  it.each([
    [{ HEDGE_MS: '2000' }, 2000, 2000],
    [{ HEDGE_MS: 2001 }, 2000, 2001],
    [{ HEDGE_MS: '100', TIMEOUT_MS: ' 100 ' }, 100, 100],
    [{ HEDGE_MS: '150', TIMEOUT_MS: '100' }, 100, 150],
  ])('%j is refused, naming HEDGE_MS', (vars, timeout, hedge) => {
    const message = `HEDGE_MS must be less than TIMEOUT_MS (${timeout} ms), as an attempt has timed out before its hedge would start, got ${hedge}`
    expect(refusal({ ROUTES: POOL, ...vars })).toEqual(['RangeError', 'HEDGE_MS', message])
  })

  it('as an option: a RangeError naming hedge', () => {
    const create = () => resolveConfig({ routes: { '/api/': ['http://a.test', 'http://b.test'] }, timeout: 50, hedge: 50 })
    expect(create).toThrow(RangeError)
    expect(create).toThrow(/^hedge must be less than timeout \(50 ms\), as an attempt has timed out before its hedge would start, got 50$/)
  })

  it('below it is taken; and without a pool, where no hedge is sent, any HEDGE_MS is', () => {
    expect(configFromEnv({ ROUTES: POOL, HEDGE_MS: '99', TIMEOUT_MS: '100' })).toMatchObject({ hedge: 99, timeout: 100 })
    expect(configFromEnv({ ROUTES: JSON.stringify({ '/a/': 'http://a.test', '/b/': ['http://b.test'] }), HEDGE_MS: '5000' })).toMatchObject({ hedge: 5000, timeout: 2000 })
    expect(configFromEnv({ UPSTREAM_URL: 'http://a.test', HEDGE_MS: '5000' }).hedge).toBe(5000)
  })
})
