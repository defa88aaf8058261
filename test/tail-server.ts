import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterEach } from 'vitest'

/** What the server saw of one request. */
export interface Seen {
  path: string
  /** Resolves on 'close': true when the connection went away before the response was finished. */
  closedEarly: Promise<boolean>
}

export type Handler = (req: IncomingMessage, res: ServerResponse, seen: Seen) => void

/** A loopback server for the tail tests: one handler, every request recorded. */
export async function tailServer(handler: Handler) {
  const seen: Seen[] = []
  const server: Server = createServer((req, res) => {
    const path = new URL(req.url!, 'http://x').pathname
    const closedEarly = new Promise<boolean>((resolve) => res.on('close', () => resolve(!res.writableFinished)))
    const entry = { path, closedEarly }
    seen.push(entry)
    req.resume()
    handler(req, res, entry)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  return {
    origin,
    seen,
    /** Resolves once the server has received `n` requests. */
    async received(n: number): Promise<void> {
      while (seen.length < n) await new Promise((resolve) => setTimeout(resolve, 2))
    },
    async close(): Promise<void> {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

export type TailServer = Awaited<ReturnType<typeof tailServer>>

/**
 * For a test file whose tests each start one tailServer (call it at the file's top level): `start(handler)` starts it;
 * `held` is where handlers keep the responses the test answers. After each test, the held responses not yet ended are
 * destroyed and the server is closed.
 */
export function tailServerEachTest() {
  const held: ServerResponse[] = []
  let server: TailServer | undefined
  afterEach(async () => {
    for (const res of held.splice(0)) if (!res.writableEnded) res.destroy()
    await server?.close()
    server = undefined
  })
  return {
    held,
    start: async (handler: Handler): Promise<TailServer> => (server = await tailServer(handler)),
  }
}
