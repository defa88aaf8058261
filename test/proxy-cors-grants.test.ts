// What the proxy's own answers grant a page (src/worker/cors.ts): only what a route's origins granted that page, the
// latest grant, a bounded number of page origins per route.
import { describe, expect, it } from 'vitest'
import { CorsGrants, preflightAsks } from '../src/worker/cors.js'

/** What the preflights in these tests ask for: a GET, no headers. */
const ASKED = preflightAsks('GET', null)

const granted = (grants: CorsGrants, route: string, page: string | null) => {
  const headers = grants.grant(route, page, new Response('{}', { status: 503 })).headers
  return [headers.get('access-control-allow-origin'), headers.get('access-control-allow-credentials'), headers.get('vary')]
}
const upstream = (allowOrigin: string | null, credentials?: string, status = 200) =>
  new Response(null, {
    status,
    headers: [...(allowOrigin === null ? [] : [['access-control-allow-origin', allowOrigin]]), ...(credentials === undefined ? [] : [['access-control-allow-credentials', credentials]])] as [string, string][],
  })

describe('CorsGrants', () => {
  it('keeps a grant for the page that asked, per route', () => {
    const grants = new CorsGrants()
    grants.learn('/api/', 'https://a.example', upstream('https://a.example', 'true'), undefined)
    expect(granted(grants, '/api/', 'https://a.example')).toEqual(['https://a.example', 'true', 'Origin'])
    expect(granted(grants, '/other/', 'https://a.example')).toEqual(['*', null, null])
  })

  it("learns nothing from an answer that grants another page, or none, or to a request with no Origin", () => {
    const grants = new CorsGrants()
    grants.learn('/api/', 'https://a.example', upstream('https://b.example', 'true'), undefined)
    grants.learn('/api/', 'https://c.example', upstream(null), undefined)
    grants.learn('/api/', null, upstream('*'), undefined)
    expect(granted(grants, '/api/', 'https://a.example')).toEqual(['*', null, null])
    expect(granted(grants, '/api/', 'https://c.example')).toEqual(['*', null, null])
    expect(granted(grants, '/api/', null)).toEqual([null, null, null])
  })

  it("the latest grant wins: '*' after a grant with credentials drops the credentials", () => {
    const grants = new CorsGrants()
    grants.learn('/api/', 'https://a.example', upstream('https://a.example', 'true'), undefined)
    grants.learn('/api/', 'https://a.example', upstream('*'), undefined)
    expect(granted(grants, '/api/', 'https://a.example')).toEqual(['*', null, null])
  })

  it('remembers 256 page origins per route, forgetting the least recently granted', () => {
    const grants = new CorsGrants()
    const page = (i: number) => `https://p${i}.example`
    for (let i = 0; i < 256; i++) grants.learn('/api/', page(i), upstream(page(i), 'true'), undefined)
    // p0 granted again: p1 is now the least recent.
    grants.learn('/api/', page(0), upstream(page(0), 'true'), undefined)
    grants.learn('/api/', page(256), upstream(page(256), 'true'), undefined)
    expect(granted(grants, '/api/', page(1))).toEqual(['*', null, null])
    for (const i of [0, 2, 255, 256]) expect(granted(grants, '/api/', page(i))).toEqual([page(i), 'true', 'Origin'])
  })

  it("replays an origin's last good answer to a page's preflight, apart from its answers' grants", () => {
    const grants = new CorsGrants()
    const headers = { 'access-control-allow-origin': 'https://a.example', 'access-control-allow-methods': 'GET', 'access-control-allow-headers': 'authorization', 'access-control-max-age': '0', 'x-other': '1' }
    grants.learn('/api/', 'https://a.example', new Response(null, { status: 204, headers }), ASKED)
    // A failed preflight, even one that grants, leaves the last good one in place.
    grants.learn('/api/', 'https://a.example', new Response(null, { status: 503, headers: { 'access-control-allow-origin': '*' } }), ASKED)
    const replay = grants.preflight('/api/', 'https://a.example', ASKED)!
    expect([replay.status, ...replay.headers]).toEqual([204, ['access-control-allow-headers', 'authorization'], ['access-control-allow-methods', 'GET'], ['access-control-allow-origin', 'https://a.example'], ['access-control-max-age', '0'], ['vary', 'Origin']])
    expect(grants.preflight('/api/', 'https://b.example', ASKED)).toBeUndefined()
    expect(grants.preflight('/other/', 'https://a.example', ASKED)).toBeUndefined()
    expect(grants.preflight('/api/', null, ASKED)).toBeUndefined()
    // With no answer's grant yet, the 503 to the request it clears is as readable as the preflight said.
    expect(granted(grants, '/api/', 'https://a.example')).toEqual(['https://a.example', null, 'Origin'])
    // An answer's grant, once there, wins.
    grants.learn('/api/', 'https://a.example', upstream('*'), undefined)
    expect(granted(grants, '/api/', 'https://a.example')).toEqual(['*', null, null])
  })
})
