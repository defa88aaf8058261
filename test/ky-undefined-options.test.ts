/**
 * ky's `fetch`, `retry` and `timeout` given as undefined (`{ timeout: config.timeout }` with none configured) are
 * unset, as the README promises of every way to leave them: ky's own retry and timeout stay off and the transport
 * stays the resilient fetch. ky's merge lets an own undefined replace an instance's default, so left as given they
 * would turn on ky's 2 retries, its 10 s timeout or its global fetch. Against node:http on 127.0.0.1.
 */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { HTTPError, type Options } from 'ky'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { resilientKy } from '../src/integrations/ky.js'
import { rejection } from './helpers.js'

let server: Server
let origin: string
/** The path of each request the server got, in order. */
const seen: string[] = []
/** The statuses of the next answers, in order; 200 once none is left. */
let statuses: number[] = []

beforeAll(async () => {
  server = createServer((req, res) => {
    seen.push(req.url ?? '')
    res.writeHead(statuses.shift() ?? 200, { 'content-type': 'application/json' }).end(JSON.stringify({ path: req.url }))
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

describe('ky options given as undefined', () => {
  it("in a call's options: ky does not retry a 503 on its own, one request, ky's HTTPError", async () => {
    const api = make()
    statuses = [503, 503, 503]
    const error = await rejection(api.get('busy', { retry: undefined }))
    expect(error).toBeInstanceOf(HTTPError)
    expect(seen).toEqual(['/busy'])
  })

  it("in a call's options: the request goes through the resilient fetch, not ky's global fetch", async () => {
    const api = make()
    expect(await api.get('through', { fetch: undefined }).json()).toEqual({ path: '/through' })
    expect(seen).toEqual(['/through'])
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
    expect(seen).toEqual(['/child', '/child'])
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
    expect(seen).toEqual(['/q?q=1'])
  })

  it('still refuses any other value, naming it', () => {
    expect(() => make().get('x', { retry: undefined, timeout: 5 })).toThrow(/options\.timeout .*got 5/)
  })
})
