/**
 * Which GETs share a request: only those whose answer could not differ. The identity is one string; a URL, a referrer
 * or an integrity value is given by the caller as any string, so one with a line break must not read as another
 * request's header lines. And a request's mode decides its answer (in a browser, `same-origin` refuses another origin
 * that `cors` may read).
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { identity } from '../src/stages/coalesce.js'
import type { Call } from '../src/stages/types.js'
import { coalescingFetch } from './coalesce-helpers.js'
import { testCall } from './stages/helpers.js'

const id = (parts: Partial<Call>) => identity(testCall(parts))

describe('the identity of a GET', () => {
  it("a URL with a line break never reads as another URL's header lines", () => {
    const withHeader = id({ url: 'https://a.test/x', init: { headers: { 'x-user': '42' } } })
    expect(withHeader).toBeDefined()
    expect(id({ url: 'https://a.test/x\nx-user:42' })).not.toBe(withHeader)
    expect(id({ url: 'https://a.test/x\nx-user:42\n', init: { headers: { accept: 'a' } } })).not.toBe(id({ url: 'https://a.test/x', init: { headers: { 'x-user': '42', accept: 'a' } } }))
  })

  it('a referrer or integrity value with a line break never reads as the next setting', () => {
    expect(id({ init: { referrer: 'https://a.test/r\n' } })).not.toBe(id({ init: { referrer: 'https://a.test/r', referrerPolicy: '\n' as ReferrerPolicy } }))
    expect(id({ init: { integrity: 'sha256-a\nabout:client' } })).not.toBe(id({ init: { integrity: 'sha256-a' } }))
  })

  it("the request's mode is part of it: 'same-origin' and 'cors' (fetch's default) are different requests", () => {
    expect(id({ init: { mode: 'same-origin' } })).not.toBe(id({}))
    expect(id({ init: { mode: 'same-origin' } })).not.toBe(id({ init: { mode: 'cors' } }))
    expect(id({ init: { mode: 'cors' } })).toBe(id({}))
    expect(id({ input: new Request('https://a.test/x', { mode: 'same-origin' }) })).toBe(id({ init: { mode: 'same-origin' } }))
    // init's mode wins over the Request's, as in fetch.
    expect(id({ input: new Request('https://a.test/x', { mode: 'same-origin' }), init: { mode: 'cors' } })).toBe(id({}))
  })

  it('the same request written alike still has one identity', () => {
    expect(id({ init: { headers: { 'x-user': '42' } } })).toBe(id({ init: { headers: [['X-User', '42']] } }))
    expect(id({ options: { retry: 3 } })).toBe(id({ options: { retry: 3 } }))
    expect(id({ options: { retry: 3 } })).not.toBe(id({}))
    // Per-call options that do not change the outcome keep it.
    expect(id({ options: { priority: 'normal', waitUntil: () => {} } })).toBe(id({}))
  })
})

describe('against a real server on 127.0.0.1', () => {
  let server: ReturnType<typeof createServer>
  let origin: string
  const held: { req: IncomingMessage; res: ServerResponse }[] = []
  let wake: (() => void) | undefined

  beforeAll(async () => {
    server = createServer((req, res) => {
      held.push({ req, res })
      wake?.()
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  })
  afterAll(() => {
    server.closeAllConnections()
    server.close()
  })

  const received = async (n: number) => {
    while (held.length < n) await new Promise<void>((resolve) => (wake = resolve))
  }

  it("a GET whose URL carries another request's header line as text is sent on its own, and gets its own answer", async () => {
    const { rf, totals } = coalescingFetch()
    // The server answers with what it was asked: the path and the x-user header.
    const answer = ({ req, res }: (typeof held)[number]) => res.end(`${req.url} as ${req.headers['x-user'] ?? 'nobody'}`)
    const user = rf(`${origin}/x`, { headers: { 'x-user': '42' } })
    await received(1)
    // The URL parser drops the line break: it asks for /xx-user:42, as nobody.
    const other = rf(`${origin}/x\nx-user:42`)
    // A second request reaches the server, or (before the fix) the other call joined the first.
    const second = received(2).then(() => 'sent')
    const raced = await Promise.race([second, new Promise((resolve) => setTimeout(resolve, 300, 'joined'))])
    for (const h of held) answer(h)
    expect(await (await user).text()).toBe('/x as 42')
    expect(raced).toBe('sent')
    expect(await (await other).text()).toBe('/xx-user:42 as nobody')
    expect(totals().coalesced).toBe(0)
  })
})
