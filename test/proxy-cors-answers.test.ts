// What the proxy's own answers and replayed preflights carry (src/worker/cors.ts): the headers it names exposed, a Vary
// only where the grant names one page, and a request's grant never taken for a preflight's.
import { describe, expect, it } from 'vitest'
import { CorsGrants, preflightAsks } from '../src/worker/cors.js'

/** What the preflights in these tests ask for: a GET, no headers. */
const ASKED = preflightAsks('GET', null)

const PAGE = 'https://a.example'
const granting = (allowOrigin: string, status = 200) => new Response(null, { status, headers: { 'access-control-allow-origin': allowOrigin } })
const headersOf = (response: Response) => Object.fromEntries(response.headers)

describe("CorsGrants: the proxy's own answers", () => {
  it('expose the headers named, in order, and none when none are named', () => {
    const grants = new CorsGrants()
    const exposed = grants.grant('/api/', PAGE, new Response(null, { status: 503 }), ['Retry-After', 'Allow'])
    expect(exposed.headers.get('access-control-expose-headers')).toBe('Retry-After, Allow')
    for (const response of [grants.grant('/api/', PAGE, new Response(null, { status: 503 })), grants.grant('/api/', PAGE, new Response(null, { status: 503 }), [])]) {
      expect(headersOf(response)).toEqual({ 'access-control-allow-origin': '*' })
    }
  })

  it('an answer to a request with no Origin takes no place among the 256 page origins remembered', () => {
    const grants = new CorsGrants()
    const page = (i: number) => `https://p${i}.example`
    for (let i = 0; i < 256; i++) grants.learn('/api/', page(i), granting(page(i)), undefined)
    grants.learn('/api/', null, granting('*'), undefined)
    grants.learn('/api/', null, granting('*'), ASKED)
    for (const i of [0, 255]) expect(grants.grant('/api/', page(i), new Response(null)).headers.get('access-control-allow-origin')).toBe(page(i))
  })
})

describe('CorsGrants: replayed preflights', () => {
  it("are the origins' answers to preflights only, never a grant to a request", () => {
    const grants = new CorsGrants()
    grants.learn('/api/', PAGE, granting(PAGE), undefined)
    expect(grants.preflight('/api/', PAGE, ASKED)).toBeUndefined()
  })

  it("carry no Vary: Origin where the origin granted any page ('*')", () => {
    const grants = new CorsGrants()
    grants.learn('/api/', PAGE, granting('*', 204), ASKED)
    const replay = grants.preflight('/api/', PAGE, ASKED)!
    expect([replay.status, headersOf(replay)]).toEqual([204, { 'access-control-allow-origin': '*' }])
  })
})
