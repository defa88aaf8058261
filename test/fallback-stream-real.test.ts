/**
 * A streamed 200 GET against a real HTTP server on 127.0.0.1 (real sockets): when the caller cancels its body, the
 * upstream connection closes and the caller's cancel() resolves, as with fetch. A stream by nature is never copied, so
 * at once; any other body is copied, and the copy's read ends after WRITE_LIMIT (10 s, fake time here) at the latest.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { createResilientFetch, memoryStore } from '../src/index.js'

let server: Server
let origin: string
/** Resolves when the upstream's response to the latest request is closed (the client went away). */
let closed: Promise<void>

beforeAll(async () => {
  server = createServer((req: IncomingMessage, res: ServerResponse) => {
    closed = new Promise((resolve) => res.on('close', resolve))
    const type = req.url === '/feed' ? 'application/x-ndjson' : 'application/json'
    res.writeHead(200, { 'content-type': type })
    // A line now and one every 20 ms, forever: a live feed, or an ordinary body that arrives slowly.
    res.write('{"tick":0}\n')
    const ticks = setInterval(() => res.write('{"tick":1}\n'), 20)
    res.on('close', () => clearInterval(ticks))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})

afterEach(() => void vi.useRealTimers())

afterAll(async () => {
  server.closeAllConnections()
  await new Promise<void>((resolve) => server.close(() => resolve()))
})

const make = () => createResilientFetch({ retry: false, timeout: false, fallback: { store: memoryStore() } })

describe("a caller's cancel of a streamed 200 GET", () => {
  it('of an NDJSON feed closes the upstream connection, and cancel() resolves', async () => {
    const rf = make()
    const response = await rf(`${origin}/feed`)
    const reader = response.body!.getReader()
    await reader.read()
    await reader.cancel()
    await closed
  })

  it('of an ordinary body that never ends resolves, and the connection closes, once the copy gives up after WRITE_LIMIT', async () => {
    // Only setTimeout: the server's interval and the sockets keep real time.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] })
    const rf = make()
    const response = await rf(`${origin}/slow`)
    const reader = response.body!.getReader()
    await reader.read()
    let settled = false
    const cancelled = reader.cancel().then(() => void (settled = true))
    let ended = false
    void closed.then(() => (ended = true))
    await vi.advanceTimersByTimeAsync(9_999)
    expect([settled, ended]).toEqual([false, false])
    await vi.advanceTimersByTimeAsync(1)
    await cancelled
    await closed
  })
})
