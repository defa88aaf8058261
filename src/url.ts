/** The URL string of fetch's input, without parsing it. */
export function urlOf(input: RequestInfo | URL): string {
  if (typeof input === 'string') return input
  if (input instanceof URL) return input.href
  if (typeof input === 'object' && input !== null && typeof (input as Request).url === 'string') return (input as Request).url
  return String(input)
}

function plainHostChar(c: number): boolean {
  // a-z 0-9 . -
  return (c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c === 46 || c === 45
}

/**
 * The URL's origin, or undefined when it is not a URL. Plain lower-case http(s) URLs are read
 * without the URL parser (the hot path); anything else (ports, IPs, upper case, IDN) goes through it.
 */
export function originOf(url: string): string | undefined {
  const start = url.startsWith('https://') ? 8 : url.startsWith('http://') ? 7 : 0
  if (start !== 0) {
    let i = start
    let lastDot = start - 1
    for (; i < url.length; i++) {
      const c = url.charCodeAt(i)
      if (c === 47 || c === 63 || c === 35) break // / ? #
      if (!plainHostChar(c)) {
        i = -1
        break
      }
      if (c === 46) lastDot = i
    }
    // A last label that starts with a digit may be an IPv4 form the parser rewrites.
    if (i > start) {
      const first = url.charCodeAt(lastDot + 1)
      if (!(first >= 48 && first <= 57)) return url.slice(0, i)
    }
  }
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
