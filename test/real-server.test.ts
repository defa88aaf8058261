import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { createResilientFetch } from '../src/index'
import { TimeoutError } from '../src/errors'
import type { ResilientFetchOptions } from '../src/types'
import { rejection } from './helpers.js'

/** What the server saw of one request. */
interface Seen {
  method: string
  path: string
  /** Resolves on 'close': true when the connection went away before the response was finished. */
  closedEarly: Promise<boolean>
}

type Handler = (req: IncomingMessage, res: ServerResponse) => void

let server: Server
let origin: string
const seen: Seen[] = []
const handlers = new Map<string, Handler>()
const streams = new Set<ReturnType<typeof setInterval>>()

beforeAll(async () => {
  server = createServer((req, res) => {
    const path = new URL(req.url!, 'http://x').pathname
    const closedEarly = new Promise<boolean>((resolve) => res.on('close', () => resolve(!res.writableFinished)))
    seen.push({ method: req.method!, path, closedEarly })
    const handler = handlers.get(path)
    if (handler) handler(req, res)
    else res.writeHead(404).end()
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  // A warm keep-alive connection: no test's first request pays for connecting and fetch's first use.
  await (await fetch(`${origin}/warm`)).text()
  seen.length = 0
})

afterEach(() => {
  for (const timer of streams) clearInterval(timer)
  streams.clear()
  seen.length = 0
  handlers.clear()
})

afterAll(async () => {
  server.closeAllConnections()
  await new Promise<void>((resolve) => server.close(() => resolve()))
})

/** Never answers. */
const hang: Handler = () => {}

/** Headers at once, then `count` chunks every `every` ms, then the end. */
function slowStream(count: number, every: number): Handler {
  return (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' })
    res.write('chunk0;')
    let n = 1
    const timer = setInterval(() => {
      if (res.destroyed) return clearInterval(timer)
      res.write(`chunk${n};`)
      if (++n === count) {
        clearInterval(timer)
        res.end()
      }
    }, every)
    streams.add(timer)
  }
}

/** Resolves once the server has received `n` requests. */
async function received(n: number): Promise<void> {
  while (seen.length < n) await new Promise((resolve) => setTimeout(resolve, 5))
}

// With the fallback stage in the path, 200 bodies are teed into the store: deadlines and aborts must behave the same.
const VARIANTS: [string, ResilientFetchOptions][] = [
  ['fallback off', { fallback: false }],
  ['fallback on', { fallback: { store: 'memory' } }],
]

describe.each(VARIANTS)('against a real HTTP server on 127.0.0.1, %s', (_, variant) => {
  it('an attempt timeout aborts the request and the server sees the connection close', async () => {
    handlers.set('/hang', hang)
    const rf = createResilientFetch({ timeout: { attempt: 200, total: 2_000 }, retry: false, ...variant })
    const error = await rejection(rf(`${origin}/hang`))
    expect(error).toBeInstanceOf(TimeoutError)
    expect(error).toMatchObject({ name: 'TimeoutError', scope: 'attempt', timeout: 200 })
    expect(seen).toHaveLength(1)
    expect(await seen[0]!.closedEarly).toBe(true)
  })

  it('cuts a hanging server at the total deadline when it is the shorter one', async () => {
    handlers.set('/hang', hang)
    const rf = createResilientFetch({ timeout: { total: 200 }, retry: false, ...variant })
    const error = await rejection(rf(`${origin}/hang`))
    expect(error).toBeInstanceOf(TimeoutError)
    expect(error).toMatchObject({ scope: 'total', timeout: 200 })
    expect(await seen[0]!.closedEarly).toBe(true)
  })

  it('the total deadline spans retries: a retry that hangs is cut with scope total and its request closed', async () => {
    let n = 0
    handlers.set('/503-then-hang', (_req, res) => {
      if (n++ === 0) res.writeHead(503).end()
    })
    const rf = createResilientFetch({
      timeout: { total: 400 },
      retry: { limit: 5, backoff: { base: 10, jitter: 'none' } },
      breaker: false,
      ...variant,
    })
    const error = await rejection(rf(`${origin}/503-then-hang`))
    expect(error).toMatchObject({ name: 'TimeoutError', scope: 'total', timeout: 400 })
    expect(seen).toHaveLength(2)
    expect(await seen[0]!.closedEarly).toBe(false)
    expect(await seen[1]!.closedEarly).toBe(true)
  })

  it('a user abort rejects with the reason and closes the connection', async () => {
    handlers.set('/hang', hang)
    const rf = createResilientFetch({ timeout: false, retry: false, ...variant })
    const controller = new AbortController()
    const call = rejection(rf(`${origin}/hang`, { signal: controller.signal }))
    await received(1)
    const reason = { why: 'user navigated away' }
    controller.abort(reason)
    expect(await call).toBe(reason)
    expect(await seen[0]!.closedEarly).toBe(true)
  })

  it('never aborts a body that streams longer than the deadlines once the promise resolved', async () => {
    // Six chunks 100 ms apart: the body takes ~500 ms, well past both deadlines.
    handlers.set('/stream', slowStream(6, 100))
    const rf = createResilientFetch({ timeout: { attempt: 200, total: 250 }, retry: false, ...variant })
    const response = await rf(`${origin}/stream`)
    expect(response.status).toBe(200)
    expect(await response.text()).toBe('chunk0;chunk1;chunk2;chunk3;chunk4;chunk5;')
    expect(await seen[0]!.closedEarly).toBe(false)
  })

  it("the caller's own signal still aborts the body after the promise resolved", async () => {
    // Long enough (20 × 50 ms) that the body cannot end before the abort.
    handlers.set('/stream', slowStream(20, 50))
    const rf = createResilientFetch({ timeout: { attempt: 200, total: 250 }, retry: false, ...variant })
    const controller = new AbortController()
    const response = await rf(`${origin}/stream`, { signal: controller.signal })
    const reader = response.body!.getReader()
    const first = await reader.read()
    expect(new TextDecoder().decode(first.value)).toContain('chunk0;')
    const reason = new Error('caller gave up')
    controller.abort(reason)
    const error = await rejection(
      (async () => {
        for (;;) if ((await reader.read()).done) return
      })(),
    )
    expect(error).toBe(reason)
    expect(await seen[0]!.closedEarly).toBe(true)
  })

  it('retries a 503 until the limit: the server sees limit + 1 requests and the caller gets the 503', async () => {
    handlers.set('/unavailable', (_req, res) => res.writeHead(503).end('busy'))
    const rf = createResilientFetch({
      retry: { limit: 2, backoff: { base: 10, jitter: 'none' } },
      breaker: false,
      ...variant,
    })
    const response = await rf(`${origin}/unavailable`)
    expect(response.status).toBe(503)
    expect(await response.text()).toBe('busy')
    expect(seen.map((s) => `${s.method} ${s.path}`)).toEqual(['GET /unavailable', 'GET /unavailable', 'GET /unavailable'])
  })

  it('when the breaker refuses the retry, the caller gets the 503 it already had, body intact', async () => {
    handlers.set('/unavailable', (_req, res) => res.writeHead(503, { 'x-from': 'server' }).end('busy, come back later'))
    const rf = createResilientFetch({
      retry: { limit: 2, backoff: { base: 10, jitter: 'none' } },
      breaker: { failureThreshold: 1, openDuration: 60_000 },
      ...variant,
    })
    const response = await rf(`${origin}/unavailable`)
    expect(response.status).toBe(503)
    expect(response.headers.get('x-from')).toBe('server')
    expect(await response.text()).toBe('busy, come back later')
    expect(seen).toHaveLength(1)
    expect(rf.breaker(origin)!.state).toBe('open')
  })

  it('retries a GET after a reset connection, limit + 1 requests, then rejects with fetch’s TypeError', async () => {
    handlers.set('/reset', (req) => req.socket.destroy())
    const rf = createResilientFetch({ retry: { limit: 2, backoff: { base: 10, jitter: 'none' } }, breaker: false, ...variant })
    const error = await rejection(rf(`${origin}/reset`))
    expect(error).toBeInstanceOf(TypeError)
    expect((error as TypeError).cause).toBeDefined()
    expect(seen).toHaveLength(3)
  })

  it('retries after an attempt timeout: the hung request is closed, the next one answers', async () => {
    let n = 0
    handlers.set('/slow-once', (_req, res) => {
      if (n++ > 0) res.end('second time lucky')
    })
    const rf = createResilientFetch({
      timeout: { attempt: 200, total: 2_000 },
      retry: { limit: 1, backoff: { base: 10, jitter: 'none' } },
      breaker: false,
      ...variant,
    })
    const response = await rf(`${origin}/slow-once`)
    expect(await response.text()).toBe('second time lucky')
    expect(seen).toHaveLength(2)
    expect(await seen[0]!.closedEarly).toBe(true)
    expect(await seen[1]!.closedEarly).toBe(false)
  })

  it('never retries a POST, neither on a 503 nor on a network error', async () => {
    handlers.set('/unavailable', (_req, res) => res.writeHead(503).end('busy'))
    handlers.set('/reset', (req) => req.socket.destroy())
    const rf = createResilientFetch({ retry: { limit: 2, backoff: { base: 10, jitter: 'none' } }, breaker: false, ...variant })
    const response = await rf(`${origin}/unavailable`, { method: 'POST', body: 'order 1' })
    expect(response.status).toBe(503)
    const error = await rejection(rf(`${origin}/reset`, { method: 'POST', body: 'order 2' }))
    expect(error).toBeInstanceOf(TypeError)
    expect(seen.map((s) => `${s.method} ${s.path}`)).toEqual(['POST /unavailable', 'POST /reset'])
  })
})
