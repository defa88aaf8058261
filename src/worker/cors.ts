/**
 * A browser hides an answer from another origin that carries no CORS headers: the page, or a resilient fetch in it,
 * then sees a network error where the proxy said 503 and when to come back. So the proxy's own answers on a route
 * (the 503 while its origins fail, a 405, a 400) carry what the route's origins last granted the page's origin: their
 * `Access-Control-Allow-Origin` and `-Allow-Credentials` as they sent them, or, for a page origin they have not
 * answered yet, `*` (which a credentialed request cannot read: only the origins grant credentials). These answers
 * hold no more than `/health` shows anyone. A preflight the origins cannot answer gets their last good answer to that
 * page's preflight asking for the same method and headers (an origin may grant only what each asked for), so the
 * request it clears reaches the proxy and gets the 503 the page can read.
 */
const ALLOW_ORIGIN = 'access-control-allow-origin'
const ALLOW_CREDENTIALS = 'access-control-allow-credentials'
const EXPOSE = 'access-control-expose-headers'

/** Page origins remembered per route, for answers and for preflights; the least recently granted goes first. */
const REMEMBERED = 256

/** An origin's grant to a page's requests or preflights: its Allow-Origin and Allow-Credentials. */
type Grant = readonly [allowOrigin: string, allowCredentials: string | null]

/** A route's grants by page origin, to its requests and to its preflights; its last good preflight answers (every `Access-Control-*` header) by what they asked. */
interface RouteGrants {
  answers: Map<string, Grant>
  preflights: Map<string, Grant>
  replies: Map<string, Headers>
}

/** What a preflight asks for, as its answer is replayed by: the method, and the header names (case, order and repeats say nothing). */
export function preflightAsks(method: string, headers: string | null): string {
  const names = new Set((headers ?? '').toLowerCase().split(',').map((name) => name.trim()).filter((name) => name !== ''))
  return `${method}\n${[...names].sort().join(',')}`
}

export class CorsGrants {
  private readonly byRoute = new Map<string, RouteGrants>()

  /**
   * Keeps what an origin granted `pageOrigin` in `answer` (to a request on `route`; to a preflight that `asked` for
   * something, see preflightAsks, kept only when it succeeded), if it granted that page anything.
   */
  learn(route: string, pageOrigin: string | null, answer: Response, asked: string | undefined): void {
    const preflight = asked !== undefined
    const headers = answer.headers
    const allowOrigin = headers.get(ALLOW_ORIGIN)
    if (pageOrigin === null || (allowOrigin !== '*' && allowOrigin !== pageOrigin) || (preflight && !answer.ok)) return
    let grants = this.byRoute.get(route)
    if (grants === undefined) this.byRoute.set(route, (grants = { answers: new Map(), preflights: new Map(), replies: new Map() }))
    keep(preflight ? grants.preflights : grants.answers, pageOrigin, [allowOrigin, headers.get(ALLOW_CREDENTIALS)])
    if (preflight) keep(grants.replies, `${pageOrigin}\n${asked}`, new Headers([...headers].filter(([name]) => name.startsWith('access-control-'))))
  }

  /**
   * The proxy's own `response` to a request from `pageOrigin` on `route`, readable there (by the origins' grant to its
   * requests, else to its preflight); `exposed` names its headers the page may read.
   */
  grant(route: string, pageOrigin: string | null, response: Response, exposed: readonly string[] = []): Response {
    if (pageOrigin === null) return response
    const grants = this.byRoute.get(route)
    const [allowOrigin, allowCredentials] = grants?.answers.get(pageOrigin) ?? grants?.preflights.get(pageOrigin) ?? ['*', null]
    const headers = response.headers
    headers.set(ALLOW_ORIGIN, allowOrigin)
    if (allowCredentials !== null) headers.set(ALLOW_CREDENTIALS, allowCredentials)
    if (allowOrigin !== '*') headers.append('vary', 'Origin')
    if (exposed.length > 0) headers.set(EXPOSE, exposed.join(', '))
    return response
  }

  /** The origins' last good answer to `pageOrigin`'s preflight on `route` that `asked` the same, as a 204, if there is one. */
  preflight(route: string, pageOrigin: string | null, asked: string): Response | undefined {
    const grant = pageOrigin === null ? undefined : this.byRoute.get(route)?.replies.get(`${pageOrigin}\n${asked}`)
    if (grant === undefined) return undefined
    const headers = new Headers(grant)
    if (headers.get(ALLOW_ORIGIN) !== '*') headers.append('vary', 'Origin')
    return new Response(null, { status: 204, headers })
  }
}

/** Sets `key` as the most recent in `map`, dropping the least recent past REMEMBERED. */
function keep<T>(map: Map<string, T>, key: string, value: T): void {
  map.delete(key)
  map.set(key, value)
  if (map.size > REMEMBERED) map.delete(map.keys().next().value!)
}
