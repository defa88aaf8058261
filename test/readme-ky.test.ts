/**
 * README "With ky": the example as written, and "per call write `resilience: { retry, timeout }`", typed as a
 * TypeScript user writes it (no cast: tsconfig.test.json checks this file) and run against node:http on 127.0.0.1.
 */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { TimeoutError } from '../src/index.js'
import { resilientKy } from '../src/integrations/ky.js'
import { rejection } from './helpers.js'

let server: Server
let origin: string
/** The path of each request, in order. */
const seen: string[] = []
/** The statuses of the next answers, in order; 200 once none is left. A `null` never answers. */
let statuses: (number | null)[] = []

beforeAll(async () => {
  server = createServer((req, res) => {
    seen.push(req.url ?? '')
    const status = statuses.length > 0 ? statuses.shift() : 200
    if (status !== null) res.writeHead(status!, { 'content-type': 'application/json' }).end(JSON.stringify({ path: req.url }))
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

const quick = { base: 1, max: 1, jitter: 'none' as const }

describe('README: With ky', () => {
  it('runs the example as written: prefixUrl, .json(), and the resilient fetch underneath', async () => {
    const api = resilientKy({ breaker: { failureThreshold: 3 }, ky: { prefixUrl: origin } })
    const users = await api.get('users').json()
    expect(users).toEqual({ path: '/users' })
    expect(api.resilientFetch.snapshot().totals).toMatchObject({ requests: 1, successes: 1 })
  })

  it('takes resilience.retry per call, typed without a cast: limit 1 is two requests, false is one', async () => {
    const api = resilientKy({ retry: { limit: 3, backoff: quick }, breaker: false, fallback: false, ky: { prefixUrl: origin, throwHttpErrors: false } })
    statuses = [503, 503, 503, 503]
    expect((await api.get('a', { resilience: { retry: { limit: 1 } } })).status).toBe(503)
    expect(seen).toEqual(['/a', '/a'])
    seen.length = 0
    statuses = [503, 503]
    expect((await api.get('b', { resilience: { retry: false } })).status).toBe(503)
    expect(seen).toEqual(['/b'])
  })

  it('takes resilience.timeout per call: our TimeoutError, not ky\'s', async () => {
    const api = resilientKy({ retry: false, fallback: false, ky: { prefixUrl: origin } })
    statuses = [null]
    const error = await rejection(api.get('hang', { resilience: { timeout: 30 } }))
    expect(error).toBeInstanceOf(TimeoutError)
    expect(error).toMatchObject({ scope: 'attempt', timeout: 30 })
  })

  it('takes resilience in the ky option, extend and create defaults too, over the same resilient fetch; a call\'s own wins', async () => {
    const api = resilientKy({ fallback: false, ky: { prefixUrl: origin, resilience: { key: 'default' } } })
    await api.get('b').text()
    const child = api.extend({ prefixUrl: origin, resilience: { key: 'child' } })
    const fresh = api.create({ prefixUrl: origin, resilience: { key: 'fresh' } })
    await child.get('c').text()
    await fresh.get('d').text()
    await api.get('e', { resilience: { key: 'call' } }).text()
    expect(api.resilientFetch.snapshot().breakers.map((b) => b.key).sort()).toEqual(['call', 'child', 'default', 'fresh'])
  })
})
