// With the default METHODS (no OPTIONS), a page's preflight for a method the proxy proxies reaches the origins: else the
// browser never sends a request that needs one (an Authorization header), and the page sees a network error.
import { describe, expect, inject, it } from 'vitest'
import worker from '../../src/worker/index.js'

const [A] = inject('sharedUpstreamUrls')
/** The page origin the upstream's /cors/ paths grant, with credentials (shared-upstream.ts). */
const PAGE = 'https://app.example'

const down = async (path: string) => (await fetch(`${A}/__down?path=${encodeURIComponent(path)}`)).body?.cancel()
const hits = async (path: string) => Number(await (await fetch(`${A}/__hits?path=${encodeURIComponent(path)}`)).text())

/** A proxy with the default METHODS in front of a fresh /cors/ base path, and a way to send it an OPTIONS from PAGE. */
function proxied() {
  const run = `/cors/${crypto.randomUUID()}`
  const env = { UPSTREAM_URL: `${A}${run}` }
  const options = async (path: string, asked: string | null) => {
    const headers: Record<string, string> = { origin: PAGE }
    if (asked !== null) Object.assign(headers, { 'access-control-request-method': asked, 'access-control-request-headers': 'authorization' })
    const response = await worker.fetch(new Request(`http://proxy.test/api${path}`, { method: 'OPTIONS', headers }), env, undefined)
    return { response, body: await response.text() }
  }
  return { run, options }
}

const access = (response: Response) => Object.fromEntries([...response.headers].filter(([name]) => name.startsWith('access-control-') || name === 'vary' || name === 'allow'))

/** What the upstream's /cors/ paths grant PAGE. */
const GRANT = { 'access-control-allow-origin': PAGE, 'access-control-allow-credentials': 'true', 'access-control-expose-headers': 'X-Request-Id', vary: 'Origin' }

describe('a preflight with the default METHODS', () => {
  it('for GET reaches the origin and gets its Access-Control-* answer; for PUT, or a plain OPTIONS, the 405', async () => {
    const { run, options } = proxied()
    const { response, body } = await options('/item', 'GET')
    expect(response.status).toBe(200)
    expect(access(response)).toEqual(GRANT)
    expect(JSON.parse(body)).toEqual({ path: `${run}/item` })
    expect(await hits(`${run}/item`)).toBe(1)
    // For PUT (not in METHODS): the 405, readable by the page as the origin's answer to its preflight granted.
    const put = await options('/item', 'PUT')
    expect([put.response.status, JSON.parse(put.body)]).toEqual([405, { error: 'method_not_allowed' }])
    expect(access(put.response)).toEqual({ allow: 'GET, HEAD', 'access-control-allow-origin': PAGE, 'access-control-allow-credentials': 'true', 'access-control-expose-headers': 'Allow', vary: 'Origin' })
    // A plain OPTIONS (no Access-Control-Request-Method) is no preflight: the 405 too.
    const plain = await options('/item', null)
    expect([plain.response.status, plain.response.headers.get('allow')]).toEqual([405, 'GET, HEAD'])
    expect(await hits(`${run}/item`)).toBe(1)
  })

  it("while the origin fails, gets the origin's last good answer to it, as a 204", async () => {
    const { run, options } = proxied()
    expect((await options('/item', 'GET')).response.status).toBe(200)
    await down(`${run}/item`)
    const { response, body } = await options('/item', 'GET')
    expect([response.status, body]).toEqual([204, ''])
    expect(access(response)).toEqual(GRANT)
    // The origin was asked, and failed.
    expect(await hits(`${run}/item`)).toBe(2)
  })
})
