/**
 * resilientKy against a real node:http server on 127.0.0.1: what ky does around the resilient fetch (its body options,
 * its hooks, its signal) with ky's own retry and timeout off and ours on, also where ky's options are given as undefined.
 */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import ky, { HTTPError, type Options } from 'ky'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { resilientKy } from '../src/integrations/ky.js'
import { rejection, requestBody } from './helpers.js'

let server: Server
let origin: string
/** `METHOD path body` of each request the server read in full. */
const seen: string[] = []
/** The statuses of the next answers, in order; 200 once none is left. */
let statuses: number[] = []

beforeAll(async () => {
  server = createServer((req, res) => {
    void requestBody(req).then((body) => {
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

/** Our retry off, so that any second request is ky's. */
const make = (ky: Options = {}) => resilientKy({ retry: false, breaker: false, fallback: false, ky: { prefixUrl: origin, ...ky } })

/** ky's retry limit and timeout for a call, as its beforeRequest hooks see them (ky's types leave `timeout` out of them). */
function kySettings(): { hooks: Options['hooks']; read: () => { retry: number; timeout: number | false } } {
  let read = { retry: -1, timeout: -1 as number | false }
  return {
    hooks: { beforeRequest: [(_request, options) => void (read = { retry: options.retry.limit ?? -1, timeout: (options as { timeout?: number | false }).timeout ?? -1 })] },
    read: () => read,
  }
}

const undefinedOptions = { fetch: undefined, retry: undefined, timeout: undefined } satisfies Options

/**
 * ky's `fetch`, `retry` and `timeout` given as undefined (`{ timeout: config.timeout }` with none configured) are
 * unset, as the README promises of every way to leave them: ky's own retry and timeout stay off and the transport
 * stays the resilient fetch. ky's merge lets an own undefined replace an instance's default, so left as given they
 * would turn on ky's 2 retries, its 10 s timeout or its global fetch.
 */
describe('ky options given as undefined', () => {
  it("in a call's options: ky does not retry a 503 on its own, one request, ky's HTTPError", async () => {
    const api = make()
    statuses = [503, 503, 503]
    const error = await rejection(api.get('busy', { retry: undefined }))
    expect(error).toBeInstanceOf(HTTPError)
    expect(seen).toEqual(['GET /busy '])
  })

  it("in a call's options: the request goes through the resilient fetch, not ky's global fetch", async () => {
    const api = make()
    expect(await api.get('through', { fetch: undefined }).json()).toEqual({ got: '', auth: null })
    expect(seen).toEqual(['GET /through '])
    expect(api.resilientFetch.snapshot().totals.requests).toBe(1)
  })

  it("in a call's options, all three: ky's retry and timeout stay off", async () => {
    const api = make()
    const settings = kySettings()
    await api.get('a', { ...undefinedOptions, hooks: settings.hooks }).text()
    expect(settings.read()).toEqual({ retry: 0, timeout: false })
    expect(api.resilientFetch.snapshot().totals.requests).toBe(1)
  })

  it('in extend, as an object or from a function that spreads its parent: the same', async () => {
    const api = make()
    for (const child of [api.extend(undefinedOptions), api.extend((parent) => ({ ...parent, ...undefinedOptions }))]) {
      const settings = kySettings()
      statuses = [503, 503, 503]
      expect(await rejection(child.get('child', { hooks: settings.hooks }))).toBeInstanceOf(HTTPError)
      expect(settings.read()).toEqual({ retry: 0, timeout: false })
    }
    expect(seen).toEqual(['GET /child ', 'GET /child '])
    expect(api.resilientFetch.snapshot().totals.requests).toBe(2)
  })

  it('in create and in the ky option: the same', async () => {
    const fromOption = make(undefinedOptions)
    const created = fromOption.create({ prefixUrl: origin, ...undefinedOptions })
    for (const api of [fromOption, created]) {
      const settings = kySettings()
      await api.get('made', { hooks: settings.hooks }).text()
      expect(settings.read()).toEqual({ retry: 0, timeout: false })
    }
    expect(fromOption.resilientFetch.snapshot().totals.requests).toBe(2)
  })

  it("leaves the caller's options object as it was", async () => {
    const options: Options = { retry: undefined, searchParams: { q: '1' } }
    await make().get('q', options).text()
    expect(options).toEqual({ retry: undefined, searchParams: { q: '1' } })
    expect(Object.hasOwn(options, 'retry')).toBe(true)
    expect(seen).toEqual(['GET /q?q=1 '])
  })

  it('still refuses any other value, naming it', () => {
    expect(() => make().get('x', { retry: undefined, timeout: 5 })).toThrow(/options\.timeout .*got 5/)
  })
})
