import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { TestProject } from 'vitest/node'

declare module 'vitest' {
  interface ProvidedContext {
    /** Two origins (two ports) of one real server, for a route with a pool. */
    sharedUpstreamUrls: [string, string]
  }
}

// A real upstream on 127.0.0.1, outside workerd, that answers as upstreams behind a shared proxy do:
// a per-client quota (429 for one API key), a 503 with Retry-After, and private answers whose
// Connection header names Cache-Control, Set-Cookie or Vary. GET /__down?path=P makes P answer 502
// from then on; GET /__hits?path=P says how many requests P got, on either port. /cors/… grants CORS_PAGE. GET /__early?path=P makes P
// answer 103 Early Hints and then 502, on the port that got /__early only. /no-options/… answers OPTIONS 501.
/** The page origin the upstream's /cors/ paths grant, with credentials (proxy-cors.test.ts). */
const CORS_PAGE = 'https://app.example'

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const down = new Set<string>()
  const early = new Set<string>()
  const hits = new Map<string, number>()
  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1')
    const path = url.searchParams.get('path') ?? ''
    if (url.pathname === '/__down') return void (down.add(path), res.writeHead(204).end())
    if (url.pathname === '/__early') return void (early.add(`${req.socket.localPort} ${path}`), res.writeHead(204).end())
    if (url.pathname === '/__hits') return void res.writeHead(200, { 'content-type': 'application/json' }).end(String(hits.get(path) ?? 0))
    hits.set(url.pathname, (hits.get(url.pathname) ?? 0) + 1)
    if (down.has(url.pathname)) return void res.writeHead(502).end('down')
    if (early.has(`${req.socket.localPort} ${url.pathname}`)) return void res.writeEarlyHints({ link: '</style.css>; rel=preload; as=style' }, () => res.writeHead(502).end('down'))
    const key = req.headers['x-api-key']
    if (url.pathname.startsWith('/quota/') && key === 'over-quota') return void res.writeHead(429, { 'retry-after': '3600', 'content-type': 'application/json' }).end('{"error":"quota"}')
    if (url.pathname.startsWith('/quota/') && key === 'over-quota-bare') return void res.writeHead(429, { 'content-type': 'application/json' }).end('{"error":"quota"}')
    if (url.pathname.startsWith('/busy/')) return void res.writeHead(503, { 'retry-after': '120' }).end('busy')
    // A server that implements no OPTIONS (Python's http.server): 501 Not Implemented.
    if (url.pathname.startsWith('/no-options/') && req.method === 'OPTIONS') return void res.writeHead(501).end('not implemented')
    // An API that lets one page origin read it, with its cookies.
    if (url.pathname.startsWith('/cors/') && req.headers.origin === CORS_PAGE) {
      const grant = { 'access-control-allow-origin': CORS_PAGE, 'access-control-allow-credentials': 'true', 'access-control-expose-headers': 'X-Request-Id', vary: 'Origin' }
      return void res.writeHead(200, { 'content-type': 'application/json', ...grant }).end(JSON.stringify({ path: url.pathname }))
    }
    const hop = /^\/hop\/([a-z-]+)\//.exec(url.pathname)?.[1]
    const headers: Record<string, string> = { 'content-type': 'application/json' }
    if (hop === 'cache-control') headers['cache-control'] = 'no-store, private'
    if (hop === 'set-cookie') headers['set-cookie'] = 'sid=alice-session; Path=/; HttpOnly'
    if (hop === 'vary') headers.vary = 'X-User'
    if (hop === 'pragma') headers.pragma = 'no-cache'
    if (hop !== undefined) headers.connection = `keep-alive, ${hop}`
    res.writeHead(200, headers).end(JSON.stringify({ user: req.headers['x-user'] ?? null, path: url.pathname }))
  }
  const servers = [createServer(handle), createServer(handle)]
  for (const server of servers) await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const [a, b] = servers.map((server) => `http://127.0.0.1:${(server.address() as AddressInfo).port}`)
  project.provide('sharedUpstreamUrls', [a, b])
  return async () => {
    for (const server of servers) {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    }
  }
}
