// CorsGrants keeps the origins' last good preflight answers by page origin and what each preflight asked
// (src/worker/cors.ts, preflightAsks), bounded per route as its grants are.
import { describe, expect, it } from 'vitest'
import { CorsGrants, preflightAsks } from '../src/worker/cors.js'

const PAGE = 'https://app.example'

describe('CorsGrants: replies by what the preflight asked', () => {
  const answer = (allowHeaders: string) => new Response(null, { status: 204, headers: { 'access-control-allow-origin': PAGE, 'access-control-allow-headers': allowHeaders } })
  const asks = (i: number) => preflightAsks('GET', `x-h${i}`)

  it('keeps 256 per route, forgetting the least recently answered; the page keeps its grant for the proxy’s own answers', () => {
    const grants = new CorsGrants()
    for (let i = 0; i < 256; i++) grants.learn('/api/', PAGE, answer(`x-h${i}`), asks(i))
    grants.learn('/api/', PAGE, answer('x-h0'), asks(0))
    grants.learn('/api/', PAGE, answer('x-h256'), asks(256))
    expect(grants.preflight('/api/', PAGE, asks(1))).toBeUndefined()
    for (const i of [0, 2, 255, 256]) expect(grants.preflight('/api/', PAGE, asks(i))?.headers.get('access-control-allow-headers')).toBe(`x-h${i}`)
    expect(grants.preflight('/api/', PAGE, preflightAsks('GET', ''))).toBeUndefined()
    expect(grants.grant('/api/', PAGE, new Response(null, { status: 503 })).headers.get('access-control-allow-origin')).toBe(PAGE)
  })

  it('names what was asked the same way however it is spelled, and apart by method', () => {
    expect(preflightAsks('GET', ' B ,a,, b,A')).toBe(preflightAsks('GET', 'a, b'))
    expect(preflightAsks('GET', null)).toBe(preflightAsks('GET', ''))
    expect(preflightAsks('PUT', 'a')).not.toBe(preflightAsks('GET', 'a'))
    expect(preflightAsks('GET', 'a,b')).not.toBe(preflightAsks('GET', 'a'))
  })
})
