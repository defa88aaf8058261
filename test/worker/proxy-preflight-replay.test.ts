// In workerd, the deployable Worker in front of the real upstream's /cors/ paths (shared-upstream.ts): while the origin
// fails, a page's preflight gets the origin's last good answer only to a preflight that asked for the same method and
// headers; one asking for other headers gets the 503, as when nothing is stored.
import { describe, expect, inject, it } from 'vitest'
import worker from '../../src/worker/index.js'

const [A] = inject('sharedUpstreamUrls')
/** The page origin the upstream's /cors/ paths grant (shared-upstream.ts). */
const PAGE = 'https://app.example'

const down = async (path: string) => (await fetch(`${A}/__down?path=${encodeURIComponent(path)}`)).body?.cancel()
const hits = async (path: string) => Number(await (await fetch(`${A}/__hits?path=${encodeURIComponent(path)}`)).text())

describe('a preflight while the origin fails, in workerd', () => {
  it("gets the origin's last good answer only when it asks for the same method and headers", async () => {
    const run = `/cors/${crypto.randomUUID()}`
    const env = { UPSTREAM_URL: `${A}${run}` }
    const preflight = async (method: string, headers: string) => {
      const asking = { origin: PAGE, 'access-control-request-method': method, 'access-control-request-headers': headers }
      const response = await worker.fetch(new Request('http://proxy.test/api/item', { method: 'OPTIONS', headers: asking }), env, undefined)
      return [response.status, response.headers.get('access-control-allow-origin'), await response.text()]
    }
    expect((await preflight('GET', 'authorization, x-trace'))[0]).toBe(200)
    await down(`${run}/item`)
    // Other headers: the stored answer was not for them.
    const other = await preflight('GET', 'x-other')
    expect(other.slice(0, 2)).toEqual([503, PAGE])
    expect(JSON.parse(other[2] as string)).toMatchObject({ error: 'upstream_error' })
    // The same preflight (its headers spelled otherwise): the stored answer, as a 204.
    expect(await preflight('GET', 'X-Trace,Authorization')).toEqual([204, PAGE, ''])
    expect(await hits(`${run}/item`)).toBe(3)
  })
})
