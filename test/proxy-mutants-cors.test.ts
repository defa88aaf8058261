// CorsGrants (src/worker/cors.ts): what its own tests left open, found by mutation testing. What a preflight asked
// is named so that no two different questions share a name; an answer to a request is kept as the answers' grant,
// never as a preflight's, and takes no room from the preflight answers kept for replay; a preflight with no Origin
// is never answered by a replay, not even one learned for the opaque origin a sandboxed page sends ("null").
import { describe, expect, it } from 'vitest'
import { CorsGrants, preflightAsks } from '../src/worker/cors.js'

const PAGE = 'https://app.example'
const ASKED = preflightAsks('GET', null)

const granted = (grants: CorsGrants, page: string) => {
  const headers = grants.grant('/api/', page, new Response('{}', { status: 503 })).headers
  return [headers.get('access-control-allow-origin'), headers.get('access-control-allow-credentials')]
}
const answer = (allowOrigin: string, init: { status?: number; credentials?: string; allowHeaders?: string } = {}) => {
  const headers = new Headers({ 'access-control-allow-origin': allowOrigin })
  if (init.credentials !== undefined) headers.set('access-control-allow-credentials', init.credentials)
  if (init.allowHeaders !== undefined) headers.set('access-control-allow-headers', init.allowHeaders)
  return new Response(null, { status: init.status ?? 204, headers })
}

describe('CorsGrants: what its mutants showed untested', () => {
  it('names two header lists apart when their names run together (x-a, x-b is not x-ax-b)', () => {
    expect(preflightAsks('GET', 'x-a, x-b')).not.toBe(preflightAsks('GET', 'x-ax-b'))
    const grants = new CorsGrants()
    grants.learn('/api/', PAGE, answer(PAGE, { allowHeaders: 'x-a, x-b' }), preflightAsks('GET', 'x-a, x-b'))
    expect(grants.preflight('/api/', PAGE, preflightAsks('GET', 'x-ax-b'))).toBeUndefined()
  })

  it("keeps an answer's grant as the answers' grant: a later preflight's grant does not replace it", () => {
    const grants = new CorsGrants()
    grants.learn('/api/', PAGE, answer(PAGE, { status: 200, credentials: 'true' }), undefined)
    grants.learn('/api/', PAGE, answer('*'), ASKED)
    expect(granted(grants, PAGE)).toEqual([PAGE, 'true'])
  })

  it('keeps the grant of an answer that failed (only a preflight must succeed to be kept)', () => {
    const grants = new CorsGrants()
    grants.learn('/api/', PAGE, answer(PAGE, { status: 500, credentials: 'true' }), undefined)
    expect(granted(grants, PAGE)).toEqual([PAGE, 'true'])
  })

  it("answers to 256 pages' requests leave the preflight answers kept for replay in place", () => {
    const grants = new CorsGrants()
    grants.learn('/api/', PAGE, answer(PAGE, { allowHeaders: 'authorization' }), ASKED)
    for (let i = 0; i < 256; i++) grants.learn('/api/', `https://p${i}.example`, answer('*', { status: 200 }), undefined)
    expect(grants.preflight('/api/', PAGE, ASKED)?.headers.get('access-control-allow-headers')).toBe('authorization')
  })

  it('replays nothing to a preflight with no Origin, not even the answer kept for a sandboxed page (Origin: null)', () => {
    const grants = new CorsGrants()
    grants.learn('/api/', 'null', answer('*'), ASKED)
    expect(grants.preflight('/api/', 'null', ASKED)?.status).toBe(204)
    expect(grants.preflight('/api/', null, ASKED)).toBeUndefined()
  })
})
