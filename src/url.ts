/** Whether fetch's input is a Request (or a Request from another realm), not a string or a URL. */
export function isRequest(input: unknown): input is Request {
  return typeof input === 'object' && input !== null && !(input instanceof URL) && typeof (input as Request).url === 'string'
}

/** The URL string of fetch's input, without parsing it. */
export function urlOf(input: RequestInfo | URL): string {
  return typeof input === 'string' ? input : input instanceof URL ? input.href : isRequest(input) ? input.url : String(input)
}

/**
 * A plain lower-case http(s) origin, read without the URL parser (the hot path): host characters
 * a-z 0-9 . - only, and a last label that does not start with a digit (it may be an IPv4 form the
 * parser rewrites). Anything else (ports, IPs, upper case, IDN) goes through the parser.
 */
const PLAIN_ORIGIN = /^https?:\/\/(?=[^/?#])(?:[a-z\d-]*\.)*(?!\d)[a-z\d-]*(?=[/?#]|$)/

/** The last plain URL read and its origin: a run of calls to one URL reads it once. */
let lastUrl: string | undefined
let lastOrigin = ''

/** The URL's origin, or undefined when it is not a URL. */
export function originOf(url: string): string | undefined {
  if (url === lastUrl) return lastOrigin
  const plain = PLAIN_ORIGIN.exec(url)
  if (plain !== null) return (lastUrl = url), (lastOrigin = plain[0])
  try {
    const origin = new URL(url, baseUrl()).origin
    return origin === 'null' ? url : origin
  } catch {
    return undefined
  }
}

/** What fetch resolves a relative URL against: the document's base URL (`<base href>`) in a page, else the location (a worker). */
export function baseUrl(): string | undefined {
  const g = globalThis as { document?: { baseURI?: unknown }; location?: { href: string } }
  const base = g.document?.baseURI
  return typeof base === 'string' ? base : g.location?.href
}
