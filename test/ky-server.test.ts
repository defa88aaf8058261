/**
 * resilientKy against a real node:http server on 127.0.0.1: what ky does around the resilient fetch (its body options,
 * its hooks, its signal) with ky's own retry and timeout off and ours on.
 */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import ky, { type Options } from 'ky'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { resilientKy } from '../src/integrations/ky.js'
import { rejection } from './helpers.js'

let server: Server
let origin: string
/** `METHOD path body` of each request the server read in full. */
const seen: string[] = []
/** The statuses of the next answers, in order; 200 once none is left. */
let statuses: number[] = []

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = ''
    req.setEncoding('utf8')
    req.on('data', (chunk: string) => (body += chunk))
    req.on('end', () => {
      seen.push(`${req.method} ${req.url} ${body}`)
      res.writeHead(statuses.shift() ?? 200, { 'content-type': 'application/json' }).end(JSON.stringify({ got: body, auth: req.headers['x-auth'] ?? null }))
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})
beforeEach(() => {
  seen.length = 0
  statuses = []
})
afterAll(async () => {
  server.closeAllConnections()
  await new Promise<void>((resolve) => server.close(() => resolve()))
})

/** Our retry: one retry, at once. */
const oneRetry = { retry: { limit: 1, backoff: { base: 1, max: 1, jitter: 'none' as const } }, breaker: false as const, fallback: false as const }

describe('resilientKy on a real server', () => {
  it("retries a PUT with ky's json body through our retry, the whole body on each attempt", async () => {
    statuses = [503]
    const api = resilientKy({ ...oneRetry, ky: { prefixUrl: origin } })
    expect(await api.put('items/1', { json: { a: 1 } }).json()).toEqual({ got: '{"a":1}', auth: null })
    expect(seen).toEqual(['PUT /items/1 {"a":1}', 'PUT /items/1 {"a":1}'])
  })

  it('runs beforeRequest and afterResponse once per ky call, whatever our retries did underneath', async () => {
    statuses = [503]
    const ran: string[] = []
    const api = resilientKy({
      ...oneRetry,
      ky: {
        hooks: {
          beforeRequest: [(request, _options, { retryCount }) => void (ran.push(`before ${retryCount}`), request.headers.set('x-auth', 't1'))],
          afterResponse: [(_request, _options, response) => void ran.push(`after ${response.status}`)],
        },
      },
    })
    expect(await api.get(`${origin}/h`).json()).toEqual({ got: '', auth: 't1' })
    expect(ran).toEqual(['before 0', 'after 200'])
    expect(seen).toHaveLength(2)
  })

  it("rejects a call with the reason of ky's signal, before any request", async () => {
    const controller = new AbortController()
    const api = resilientKy({ retry: false })
    const reason = new Error('left the page')
    const error = await rejection(api.get(`${origin}/never`, { signal: controller.signal, hooks: { beforeRequest: [() => controller.abort(reason)] } }))
    expect(error).toBe(reason)
    expect(seen).toEqual([])
  })

  it("an afterResponse hook's ky.retry() rejects with ky's ForceRetryError, as ky does with retry 0: one request", async () => {
    const api = resilientKy({ ky: { hooks: { afterResponse: [() => ky.retry()] } } })
    expect((await rejection(api.get(`${origin}/again`).text()) as Error).name).toBe('ForceRetryError')
    expect(seen).toHaveLength(1)
  })

  it('refuses beforeRetry hooks wherever given, naming them: ky runs them only between its own retries, which are off', async () => {
    const hook = () => {}
    const api = resilientKy({ ...oneRetry })
    expect(() => resilientKy({ ky: { hooks: { beforeRetry: [hook] } } })).toThrow(/ky\.hooks\.beforeRetry must be left empty/)
    expect(() => api.get(`${origin}/r`, { hooks: { beforeRetry: [hook] } })).toThrow(/options\.hooks\.beforeRetry must be left empty/)
    expect(() => api.extend({ hooks: { beforeRetry: [hook] } })).toThrow(/extend\.hooks\.beforeRetry/)
    expect(() => api.extend((parent) => ({ ...parent, hooks: { beforeRetry: [hook] } }))).toThrow(/extend\.hooks\.beforeRetry/)
    expect(() => api.create({ hooks: { beforeRetry: [hook] } })).toThrow(/create\.hooks\.beforeRetry/)
    expect(() => resilientKy({ ky: { hooks: { beforeRetry: hook } as unknown as Options['hooks'] } })).toThrow(/ky\.hooks\.beforeRetry/)
    expect(seen).toEqual([])
    // Empty, as ky's own defaults have it: allowed, and our retry still runs.
    statuses = [503]
    const plain = resilientKy({ ...oneRetry, ky: { hooks: { beforeRetry: [] } } })
    expect((await plain.get(`${origin}/r`, { hooks: { beforeRetry: [] } })).status).toBe(200)
    expect(seen).toHaveLength(2)
  })
})
