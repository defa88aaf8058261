import type { Route, Upstream } from './config.js'

/** The route whose prefix the path starts with (longest first), and the rest of the path from its '/'. */
export function matchRoute(routes: readonly Route[], pathname: string): { route: Route; rest: string } | undefined {
  for (const route of routes) {
    if (pathname.startsWith(route.prefix)) return { route, rest: pathname.slice(route.prefix.length - 1) }
    if (pathname.length === route.prefix.length - 1 && route.prefix.startsWith(pathname)) return { route, rest: '/' }
  }
  return undefined
}

/**
 * The upstream URL for `rest` (a path starting with '/') and `search`, or undefined when it would leave
 * the configured origin or base path. Built by concatenation, never by resolving the user's path
 * against the origin, and then checked, so no path trick can name another host.
 */
export function upstreamUrl(upstream: Upstream, rest: string, search: string): string | undefined {
  if (!rest.startsWith('/') || rest.split('/').some((segment) => dotSegment(segment))) return undefined
  const target = upstream.origin + upstream.basePath + rest + search
  let parsed: URL
  try {
    parsed = new URL(target)
  } catch {
    return undefined
  }
  if (parsed.origin !== upstream.origin) return undefined
  const path = parsed.pathname
  if (upstream.basePath !== '' && path !== upstream.basePath && !path.startsWith(`${upstream.basePath}/`)) return undefined
  return target
}

/** Times a segment is percent-decoded: an upstream (or a chain of them) that decodes twice still sees no dot-dot. */
const DECODES = 3

/**
 * Whether an upstream that decodes the path could read the segment as a dot segment: after percent-decoding
 * it is `.` or `..` (or `..;x`, which Tomcat and Spring read as `..` whatever x holds, a line break too; or `..`
 * and a NUL, where a C string ends; IIS's `%u002e` decoded too), or it holds an encoded `/` or `\` next to `..`
 * (`..%2f..%2fadmin`, `%2e%2e%5c`, twice encoded `%252e%252e`) or around a lone `.`. `%2F` in an ordinary segment (GitLab's ids) goes through. The URL parser already resolved
 * the client's literal and `%2e` dot segments; this is what it leaves. Decoded bytes are also read as a lax
 * decoder reads them (laxUtf8, lookalikes): overlong `%c0%ae`, full-width `%ef%bc%8e`, `∕`; a `%` read so is
 * decoded again, within the same DECODES.
 */
function dotSegment(segment: string, decodes = DECODES): boolean {
  let decoded = segment
  for (; decodes > 0 && decoded.includes('%'); decodes--) decoded = decoded.replace(/%(?:u([0-9a-f]{4})|([0-9a-f]{2}))/gi, (_, wide?: string, hex?: string) => String.fromCharCode(parseInt(wide ?? hex!, 16)))
  if (readsAsDots(decoded)) return true
  if (!/[^\0-\x7f]/.test(decoded)) return false
  const read = lookalikes(laxUtf8(decoded))
  // A `%` only that reading has (overlong `%c0%a5`, full-width `％`), a chain that decodes twice decodes again.
  return readsAsDots(read) || (decodes > 0 && read.includes('%') && dotSegment(read, decodes))
}

const readsAsDots = (decoded: string): boolean => /^\.\.?([;\0].*)?$/s.test(decoded) || /\.\.[/\\]|[/\\]\.\.|(^|[/\\])\.([/\\]|$)/.test(decoded)

/**
 * The bytes (one a character; a wider one from `%u` stays as it is) read as UTF-8 the lax way: overlong forms
 * too (`%c0%ae`, `%e0%80%ae`, `%f0%80%80%ae`, and RFC 2279's five- and six-byte `%f8%80%80%80%ae` and
 * `%fc%80%80%80%80%ae` are `.`), and, as IIS did, any byte after a lead byte taken for a continuation byte
 * (`%c1%1c` is `\`).
 */
function laxUtf8(bytes: string): string {
  return bytes.replace(/[\xc0-\xdf][\0-\xff]|[\xe0-\xef][\0-\xff]{2}|[\xf0-\xf7][\0-\xff]{3}|[\xf8-\xfb][\0-\xff]{4}|[\xfc-\xfd][\0-\xff]{5}/g, (sequence) => {
    let code = sequence.charCodeAt(0) & (0x7f >> sequence.length)
    for (let i = 1; i < sequence.length; i++) code = (code << 6) | (sequence.charCodeAt(i) & 0x3f)
    return code > 0x10ffff ? '\ufffd' : String.fromCodePoint(code)
  })
}

/** What NFKC makes `.`, `/` or `\` (`．`, `／`, `＼`, `﹒`, `‥`), and what Windows' best-fit conversion does (`∕`, `⁄`, `∖`, and `¥`, `₩` where they are the backslash). */
const lookalikes = (text: string): string => text.normalize('NFKC').replace(/[\u2215\u2044]/g, '/').replace(/[\u2216\u00a5\u20a9]/g, '\\')

// RFC 9110 §7.6.1 hop-by-hop fields, plus Host (the upstream's own is set by fetch from the URL), the client's
// claims of the host, scheme or port an upstream may build links and redirects from (X-Forwarded-Host and its kin,
// Forwarded, RFC 7239's standard form): claims we do not vouch for, which would reach the copy everyone is served;
// and Expect: workerd's fetch takes an upstream's 100 Continue for its answer, which would fail a good attempt (proxy.ts, interimAnswer).
const HOP_BY_HOP = ['connection', 'keep-alive', 'proxy-authenticate', 'proxy-authorization', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade']
// Headers that make an upstream framework (IIS URL Rewrite, Symfony, Laravel, Rails, Express method-override…)
// serve another resource or method than the URL names: the copy is stored under the URL alone, so a client
// could poison what everyone is served while the upstream is down.
const REWRITES = ['x-original-url', 'x-rewrite-url', 'x-http-method-override', 'x-http-method', 'x-method-override', 'x-forwarded-prefix']
const HOST_CLAIMS = ['host', 'forwarded', 'x-forwarded-host', 'x-forwarded-proto', 'x-forwarded-port', 'x-forwarded-scheme', 'x-forwarded-server', 'x-forwarded-ssl', 'front-end-https', 'x-url-scheme', 'x-host', 'x-original-host', 'cf-visitor']
// What an origin takes from a front proxy as the client's address (nginx's real_ip, Rails' Client-IP, request-ip's
// list) or its user (oauth2-proxy, Authelia, Grafana, Azure App Service, ALB, IAP, Cloudflare Access): claims we do not
// vouch for, and an answer for an internal address or another user would be the copy everyone is served. On Cloudflare
// the Worker's fetch gets its own CF-Connecting-IP. X-Forwarded-For goes on: each proxy appends to it (Cloudflare the
// address it saw, last), so an origin that reads the hops it trusts is not fooled.
const CLIENT_CLAIMS = [
  ...['cf-connecting-ip', 'cf-connecting-ipv6', 'cf-pseudo-ipv4', 'true-client-ip', 'x-real-ip', 'x-client-ip', 'client-ip', 'x-cluster-client-ip', 'fastly-client-ip', 'x-originating-ip', 'x-appengine-user-ip', 'x-forwarded', 'forwarded-for'],
  ...['x-forwarded-user', 'x-forwarded-email', 'x-forwarded-preferred-username', 'x-forwarded-groups', 'remote-user', 'remote-email', 'remote-name', 'remote-groups', 'x-remote-user', 'x-webauth-user', 'x-authenticated-user'],
  ...['x-ms-client-principal', 'x-ms-client-principal-name', 'x-ms-client-principal-id', 'x-ms-client-principal-idp', 'x-amzn-oidc-identity', 'x-amzn-oidc-data', 'x-goog-authenticated-user-email', 'x-goog-authenticated-user-id', 'cf-access-authenticated-user-email'],
  // A message signature (RFC 9421; draft-cavage's Signature, ActivityPub's authorized fetch) names a signer the origin
  // may answer as such, which the store would not take for a credential; and it signed our host and path, not the origin's.
  ...['signature', 'signature-input', 'signature-agent'],
]
// A client certificate a TLS-terminating front proxy checked (RFC 9440's Client-Cert, X-SSL-Client-Cert, nginx's
// ssl-client-verify, Envoy's X-Forwarded-Client-Cert, Traefik's, Azure's X-ARR-ClientCert, ALB's X-Amzn-Mtls-Clientcert):
// we checked none. Named in many ways, hence a pattern (matched as the name reads with `-` for `_`).
const CLIENT_CERT = /client-?cert|^(x-)?ssl-client-|^x-client-(verify|dn)$/
const REQUEST_DROPPED = [...HOP_BY_HOP, ...HOST_CLAIMS, 'expect', ...REWRITES, ...CLIENT_CLAIMS]
const DROPPED = new Set(REQUEST_DROPPED)
const RESPONSE_DROPPED = HOP_BY_HOP
// What the fallback store (and any cache in front of the proxy) decides by: Connection may not name them away,
// or a private, no-store or per-user answer would be stored and served to everyone.
const DECIDING = new Set(['cache-control', 'pragma', 'set-cookie', 'vary', 'content-type'])

/** A copy of the client's headers fit to send upstream. */
export function requestHeaders(incoming: Headers): Headers {
  const headers = new Headers(incoming)
  dropHopByHop(headers, REQUEST_DROPPED)
  for (const name of [...headers.keys()]) {
    // CGI, PHP, WSGI and Rack read `X_Real_IP` as X-Real-IP (both HTTP_X_REAL_IP): a dropped name's underscore spelling goes
    // too, and X-Forwarded-For's, which would overwrite the list each proxy appends to.
    const dashed = name.replace(/_/g, '-')
    if (DROPPED.has(dashed) || CLIENT_CERT.test(dashed) || (dashed !== name && dashed === 'x-forwarded-for')) headers.delete(name)
  }
  return headers
}

/** The upstream's headers fit to send to the client, or undefined when there is nothing to drop. */
export function responseHeaders(incoming: Headers): Headers | undefined {
  if (!RESPONSE_DROPPED.some((name) => incoming.has(name))) return undefined
  const headers = new Headers(incoming)
  dropHopByHop(headers, RESPONSE_DROPPED)
  return headers
}

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/

function dropHopByHop(headers: Headers, names: readonly string[]): void {
  // Connection may name further hop-by-hop fields (RFC 9110 §7.6.1).
  const listed = headers.get('connection')
  if (listed !== null) {
    for (const entry of listed.split(',')) {
      const name = entry.trim().toLowerCase()
      if (TOKEN.test(name) && !DECIDING.has(name)) headers.delete(name)
    }
  }
  for (const name of names) headers.delete(name)
}
