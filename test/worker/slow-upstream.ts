import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { TestProject } from 'vitest/node'

declare module 'vitest' {
  interface ProvidedContext {
    slowUpstreamUrl: string
  }
}

// A real server on 127.0.0.1, outside workerd, that sends its headers only after ?ms= (at most 10 s), and /echo:
// workerd's own fetch must be what a deadline cuts, not a fake.
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const server = createServer(async (req, res) => {
    if (req.url === '/echo') {
      // What arrived, for the tests of what the library sends.
      let body = ''
      for await (const chunk of req) body += String(chunk)
      return res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ method: req.method, authorization: req.headers.authorization ?? null, body }))
    }
    const ms = Math.min(10_000, Number(new URL(req.url ?? '/', 'http://127.0.0.1').searchParams.get('ms') ?? 0) || 0)
    const timer = setTimeout(() => res.writeHead(200, { 'content-type': 'text/plain' }).end('slow'), ms)
    res.on('close', () => clearTimeout(timer))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  project.provide('slowUpstreamUrl', `http://127.0.0.1:${(server.address() as AddressInfo).port}`)
  return () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections()
      server.close(() => resolve())
    })
}
