/** Whether fetch's input is a Request (or a Request from another realm), not a string or a URL (a URL has no `url`). */
export const isRequest = (input: unknown): input is Request => typeof input === 'object' && input !== null && typeof (input as Request).url === 'string'

/**
 * A plain lower-case http(s) origin, read without the URL parser (the hot path): host characters
 * a-z 0-9 . - only, and a last label that does not start with a digit (it may be an IPv4 form the
 * parser rewrites). Anything else (ports, IPs, upper case, IDN) goes through the parser.
 */
const PLAIN_ORIGIN = /^https?:\/\/(?=[^/?#])(?:[a-z\d-]*\.)*(?!\d)[a-z\d-]*(?=[/?#]|$)/

/** Whether a URL has a scheme and an authority: its origin is then the same whatever the base ('https:/x' is relative to an https base). */
const ABSOLUTE = /^[a-z][a-z\d+.-]*:\/\//i

// The last URL read, the base it was read against (undefined when it needs none) and its origin: a run of calls to one URL reads it once.
let lastUrl: string | undefined
let lastBase: string | undefined
let lastOrigin: string | undefined

/** The URL's origin, or undefined when it is not a URL. */
export function originOf(url: string): string | undefined {
  if (url === lastUrl && (lastBase === undefined || lastBase === baseUrl())) return lastOrigin
  let origin = PLAIN_ORIGIN.exec(url)?.[0]
  let base: string | undefined
  if (origin === undefined) {
    base = ABSOLUTE.test(url) ? undefined : baseUrl()
    try {
      origin = new URL(url, base).origin
    } catch {
      return undefined
    }
    if (origin === 'null') origin = url
  }
  lastUrl = url
  lastBase = base
  return (lastOrigin = origin)
}

/** What fetch resolves a relative URL against: the document's base URL (`<base href>`) in a page, else the location (a worker). */
export function baseUrl(): string | undefined {
  const g = globalThis as { document?: { baseURI?: unknown }; location?: { href: string } }
  const base = g.document?.baseURI
  return typeof base === 'string' ? base : g.location?.href
}
