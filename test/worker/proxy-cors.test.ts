// The proxy's own answers on a route reach a page on another origin: without CORS headers the browser hides them, and
// the page (or a resilient fetch in it) sees a network error where the proxy said 503 and when to come back.
import { describe, expect, inject, it } from 'vitest'
import worker from '../../src/worker/index.js'

const [A] = inject('sharedUpstreamUrls')
/** The page origin the upstream's /cors/ paths grant, with credentials (shared-upstream.ts). */
const PAGE = 'https://app.example'

const down = async (path: string) => (await fetch(`${A}/__down?path=${encodeURIComponent(path)}`)).body?.cancel()

/** A proxy in front of a fresh /cors/ base path, and a way to ask it from a page origin. */
function proxied() {
  const run = `/cors/${crypto.randomUUID()}`
  const env = { UPSTREAM_URL: `${A}${run}` }
  const ask = async (path: string, origin: string | null, method = 'GET') => {
    const response = await worker.fetch(new Request(`http://proxy.test/api${path}`, { method, headers: origin === null ? {} : { origin } }), env, undefined)
    await response.arrayBuffer()
    return response
  }
  return { run, ask }
}

const cors = (response: Response) => ({
  status: response.status,
  allowOrigin: response.headers.get('access-control-allow-origin'),
  allowCredentials: response.headers.get('access-control-allow-credentials'),
  expose: response.headers.get('access-control-expose-headers'),
  vary: response.headers.get('vary'),
})

describe("the proxy's 503 on a route", () => {
  it('carries what the origin granted the page (credentials included), and lets it read Retry-After', async () => {
    const { run, ask } = proxied()
    expect(cors(await ask('/ok', PAGE)).allowOrigin).toBe(PAGE)
    await down(`${run}/gone`)
    const answer = await ask('/gone', PAGE)
    expect(cors(answer)).toEqual({ status: 503, allowOrigin: PAGE, allowCredentials: 'true', expose: 'Retry-After', vary: 'Origin' })
    expect(answer.headers.get('retry-after')).toBe('1')
  })

  it('lets any page read it, without credentials, where the origin has granted that page nothing yet', async () => {
    const { run, ask } = proxied()
    await ask('/ok', PAGE)
    await down(`${run}/gone`)
    expect(cors(await ask('/gone', 'https://other.example'))).toEqual({ status: 503, allowOrigin: '*', allowCredentials: null, expose: 'Retry-After', vary: null })
  })

  it('carries no CORS header for a request with no Origin (not a page)', async () => {
    const { run, ask } = proxied()
    await ask('/ok', PAGE)
    await down(`${run}/gone`)
    expect(cors(await ask('/gone', null))).toEqual({ status: 503, allowOrigin: null, allowCredentials: null, expose: null, vary: null })
  })
})

describe("the proxy's other answers on a route", () => {
  it('a 405 lets the page read it and its Allow', async () => {
    const { ask } = proxied()
    await ask('/ok', PAGE)
    const answer = await ask('/ok', PAGE, 'DELETE')
    expect(cors(answer)).toEqual({ status: 405, allowOrigin: PAGE, allowCredentials: 'true', expose: 'Allow', vary: 'Origin' })
    expect(answer.headers.get('allow')).toBe('GET, HEAD')
  })

  it("a copy served keeps the origin's grant and lets the page read X-Resilient-Source and Age too", async () => {
    const { run, ask } = proxied()
    await ask('/item', PAGE)
    await down(`${run}/item`)
    const copy = await ask('/item', PAGE)
    expect(cors(copy)).toEqual({ status: 200, allowOrigin: PAGE, allowCredentials: 'true', expose: 'X-Request-Id, X-Resilient-Source, Age', vary: 'Origin' })
    expect(copy.headers.get('x-resilient-source')).toBe('fallback')
  })
})
