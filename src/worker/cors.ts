/**
 * A browser hides an answer from another origin that carries no CORS headers: the page, or a resilient fetch in it,
 * then sees a network error where the proxy said 503 and when to come back. So the proxy's own answers on a route
 * (the 503 while its origins fail, a 405, a 400) carry what the route's origins last granted the page's origin: their
 * `Access-Control-Allow-Origin` and `-Allow-Credentials` as they sent them, or, for a page origin they have not
 * answered yet, `*` (which a credentialed request cannot read: only the origins grant credentials). These answers
 * hold no more than `/health` shows anyone.
 */
const ALLOW_ORIGIN = 'access-control-allow-origin'
const ALLOW_CREDENTIALS = 'access-control-allow-credentials'
const EXPOSE = 'access-control-expose-headers'

/** Page origins remembered per route; the least recently granted goes first. */
const REMEMBERED = 256

/** An origin's grant: its Allow-Origin and, when it sent one, its Allow-Credentials. */
type Grant = readonly [allowOrigin: string, allowCredentials: string | null]

export class CorsGrants {
  private readonly byRoute = new Map<string, Map<string, Grant>>()

  /** Keeps what an origin granted `pageOrigin` in `headers` (an answer to a request on `route`), if it granted anything. */
  learn(route: string, pageOrigin: string | null, headers: Headers): void {
    const allowOrigin = headers.get(ALLOW_ORIGIN)
    if (pageOrigin === null || (allowOrigin !== '*' && allowOrigin !== pageOrigin)) return
    let grants = this.byRoute.get(route)
    if (grants === undefined) this.byRoute.set(route, (grants = new Map()))
    grants.delete(pageOrigin)
    grants.set(pageOrigin, [allowOrigin, headers.get(ALLOW_CREDENTIALS)])
    if (grants.size > REMEMBERED) grants.delete(grants.keys().next().value!)
  }

  /** The proxy's own `response` to a request from `pageOrigin` on `route`, readable there; `exposed` names its headers the page may read. */
  grant(route: string, pageOrigin: string | null, response: Response, exposed: readonly string[] = []): Response {
    if (pageOrigin === null) return response
    const [allowOrigin, allowCredentials] = this.byRoute.get(route)?.get(pageOrigin) ?? ['*', null]
    const headers = response.headers
    headers.set(ALLOW_ORIGIN, allowOrigin)
    if (allowCredentials !== null) headers.set(ALLOW_CREDENTIALS, allowCredentials)
    if (allowOrigin !== '*') headers.append('vary', 'Origin')
    if (exposed.length > 0) headers.set(EXPOSE, exposed.join(', '))
    return response
  }
}
