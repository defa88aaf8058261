// While the origins fail, a page's preflight is answered with their last good answer to a preflight that asked for the
// same method and headers (src/worker/cors.ts): an origin that grants what each preflight asks would otherwise have an
// answer replayed that does not cover the new one, and the browser would show a network error.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { fakeUpstream, get, ORIGIN, proxy } from './worker/helpers.js'

const PAGE = 'https://app.example'

beforeEach(() => {
  vi.spyOn(console, 'log').mockImplementation(() => {})
})
afterEach(() => {
  vi.restoreAllMocks()
})

/** A preflight from PAGE asking for `method` and `headers`. */
const preflight = (method: string, headers: string) => get('/api/item', { method: 'OPTIONS', headers: { origin: PAGE, 'access-control-request-method': method, 'access-control-request-headers': headers } })
const access = (response: Response) => Object.fromEntries([...response.headers].filter(([name]) => name.startsWith('access-control-') || name === 'vary'))

describe('a replayed preflight answer', () => {
  it('answers only a preflight that asks for the same method and headers, whatever their case, order and repeats', async () => {
    let down = false
    // An origin that grants each preflight what it asks for.
    const upstream = fakeUpstream((request) => {
      if (down) return new Response('down', { status: 500 })
      const asked = (name: string) => request.headers.get(`access-control-request-${name}`) ?? ''
      return new Response(null, { status: 204, headers: { 'access-control-allow-origin': PAGE, 'access-control-allow-methods': asked('method'), 'access-control-allow-headers': asked('headers'), vary: 'Origin' } })
    })
    const handler = proxy({ fetch: upstream.fetch })
    const granted = { 'access-control-allow-origin': PAGE, 'access-control-allow-methods': 'GET', 'access-control-allow-headers': 'X-Trace, authorization', vary: 'Origin' }
    const live = await handler(preflight('GET', 'X-Trace, authorization'))
    expect([live.status, access(live)]).toEqual([204, granted])
    down = true
    // Headers the stored answer was not for: the 503, as when nothing is stored.
    const other = await handler(preflight('GET', 'x-other'))
    expect([other.status, await other.text()]).toEqual([503, JSON.stringify({ error: 'upstream_error', key: ORIGIN })])
    const fewer = await handler(preflight('GET', 'authorization'))
    expect(fewer.status).toBe(503)
    // Another method with the same headers: the 503 too.
    const head = await handler(preflight('HEAD', 'X-Trace, authorization'))
    expect(head.status).toBe(503)
    // The same preflight, spelled otherwise: the origin's answer to it.
    const same = await handler(preflight('GET', 'Authorization,x-trace, AUTHORIZATION'))
    expect([same.status, access(same)]).toEqual([204, granted])
    expect(upstream.seen).toHaveLength(5)
  })
})
