// What the proxy's own answers grant a page (src/worker/cors.ts): only what a route's origins granted that page, the
// latest grant, a bounded number of page origins per route.
import { describe, expect, it } from 'vitest'
import { CorsGrants } from '../src/worker/cors.js'

const granted = (grants: CorsGrants, route: string, page: string | null) => {
  const headers = grants.grant(route, page, new Response('{}', { status: 503 })).headers
  return [headers.get('access-control-allow-origin'), headers.get('access-control-allow-credentials'), headers.get('vary')]
}
const upstream = (allowOrigin: string | null, credentials?: string) =>
  new Headers([...(allowOrigin === null ? [] : [['access-control-allow-origin', allowOrigin]]), ...(credentials === undefined ? [] : [['access-control-allow-credentials', credentials]])] as [string, string][])

describe('CorsGrants', () => {
  it('keeps a grant for the page that asked, per route', () => {
    const grants = new CorsGrants()
    grants.learn('/api/', 'https://a.example', upstream('https://a.example', 'true'))
    expect(granted(grants, '/api/', 'https://a.example')).toEqual(['https://a.example', 'true', 'Origin'])
    expect(granted(grants, '/other/', 'https://a.example')).toEqual(['*', null, null])
  })

  it("learns nothing from an answer that grants another page, or none, or to a request with no Origin", () => {
    const grants = new CorsGrants()
    grants.learn('/api/', 'https://a.example', upstream('https://b.example', 'true'))
    grants.learn('/api/', 'https://c.example', upstream(null))
    grants.learn('/api/', null, upstream('*'))
    expect(granted(grants, '/api/', 'https://a.example')).toEqual(['*', null, null])
    expect(granted(grants, '/api/', 'https://c.example')).toEqual(['*', null, null])
    expect(granted(grants, '/api/', null)).toEqual([null, null, null])
  })

  it("the latest grant wins: '*' after a grant with credentials drops the credentials", () => {
    const grants = new CorsGrants()
    grants.learn('/api/', 'https://a.example', upstream('https://a.example', 'true'))
    grants.learn('/api/', 'https://a.example', upstream('*'))
    expect(granted(grants, '/api/', 'https://a.example')).toEqual(['*', null, null])
  })

  it('remembers 256 page origins per route, forgetting the least recently granted', () => {
    const grants = new CorsGrants()
    const page = (i: number) => `https://p${i}.example`
    for (let i = 0; i < 256; i++) grants.learn('/api/', page(i), upstream(page(i), 'true'))
    // p0 granted again: p1 is now the least recent.
    grants.learn('/api/', page(0), upstream(page(0), 'true'))
    grants.learn('/api/', page(256), upstream(page(256), 'true'))
    expect(granted(grants, '/api/', page(1))).toEqual(['*', null, null])
    for (const i of [0, 2, 255, 256]) expect(granted(grants, '/api/', page(i))).toEqual([page(i), 'true', 'Origin'])
  })
})
