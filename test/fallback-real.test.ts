/**
 * The fallback's promises against a real HTTP server on 127.0.0.1 (real sockets, real timers): what a
 * call that started before rf.clear() leaves behind, fetch's own cache mode, a copy still being written,
 * credentials other than Authorization and Cookie, a redirected response, and a store that never answers.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { createResilientFetch, memoryStore, type FallbackStore, type ResilientFetchOptions } from '../src/index.js'

let server: Server
let origin: string
/** The upstream's answer to /data: a status, 'hold' to keep the response until release() is called, or 'login' to redirect to /login. */
let mode: number | 'hold' | 'login' = 200
let held: ServerResponse[] = []

beforeAll(async () => {
  server = createServer((req: IncomingMessage, res: ServerResponse) => {
    if (req.url === '/login') return void res.writeHead(200, { 'content-type': 'text/html' }).end('<html>login</html>')
    if (mode === 'login') return void res.writeHead(302, { location: '/login' }).end()
    if (mode === 'hold') return void held.push(res)
    res.writeHead(mode, { 'content-type': 'application/json' }).end(JSON.stringify({ status: mode, user: req.headers['x-user'] ?? null }))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})

afterAll(async () => {
  for (const res of held) res.destroy()
  server.closeAllConnections()
  await new Promise<void>((resolve) => server.close(() => resolve()))
})

beforeEach(() => {
  mode = 200
  held = []
})

function release(status: number, user: string): void {
  for (const res of held.splice(0)) res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify({ status, user }))
}

function make(options: Partial<ResilientFetchOptions> = {}, store: FallbackStore = memoryStore(), keepPrivate = false) {
  const rf = createResilientFetch({ retry: false, timeout: { attempt: 2_000, total: 4_000 }, ...options, fallback: { store, private: keepPrivate } })
  const storeErrors: unknown[] = []
  rf.addEventListener('storeerror', (e) => storeErrors.push(e.detail.error))
  return { rf, storeErrors }
}

describe('the fallback over a real upstream on 127.0.0.1', () => {
  it('a copy is served for a failure that comes right after the first good response', async () => {
    const { rf } = make()
    expect(await (await rf(`${origin}/data`)).json()).toEqual({ status: 200, user: null })
    mode = 503
    const answer = await rf(`${origin}/data`)
    expect(answer.headers.get('x-resilient-source')).toBe('fallback')
    expect(await answer.json()).toEqual({ status: 200, user: null })
  })

  it("a response to a call sent before rf.clear() is never kept, though it arrives after (logout)", async () => {
    const { rf } = make()
    mode = 'hold'
    const alice = rf(`${origin}/data`, { headers: { 'x-user': 'alice' } })
    await expect.poll(() => held.length).toBe(1)
    await rf.clear()
    release(200, 'alice')
    expect(await (await alice).json()).toEqual({ status: 200, user: 'alice' })
    mode = 503
    const next = await rf(`${origin}/data`)
    expect(next.status).toBe(503)
    expect(next.headers.get('x-resilient-source')).toBeNull()
  })

  it("a request made with cache: 'no-store' is never kept", async () => {
    const { rf } = make()
    await (await rf(`${origin}/data`, { cache: 'no-store' })).text()
    await (await rf(new Request(`${origin}/data`, { cache: 'no-store' }))).text()
    mode = 503
    expect((await rf(`${origin}/data`)).status).toBe(503)
  })

  it("a response to a request with an API key is not kept by default: nobody, not even its user, is answered with it", async () => {
    const { rf } = make()
    const alice = { 'x-user': 'alice', 'x-api-key': 'KEY-alice' }
    expect(await (await rf(`${origin}/data`, { headers: alice })).json()).toEqual({ status: 200, user: 'alice' })
    mode = 503
    for (const headers of [{}, alice]) {
      const answer = await rf(`${origin}/data`, { headers })
      expect(answer.status).toBe(503)
      expect(answer.headers.get('x-resilient-source')).toBeNull()
    }
  })

  it('with private: true the copy of a request with an API key is served only to that key', async () => {
    const { rf } = make({}, memoryStore(), true)
    await (await rf(`${origin}/data`, { headers: { 'x-user': 'alice', 'x-api-key': 'KEY-alice' } })).text()
    mode = 503
    const mine = await rf(`${origin}/data`, { headers: { 'x-api-key': 'KEY-alice' } })
    expect(mine.headers.get('x-resilient-source')).toBe('fallback')
    expect(await mine.json()).toEqual({ status: 200, user: 'alice' })
    for (const headers of [{}, { 'x-api-key': 'KEY-bob' }] as Record<string, string>[]) {
      const answer = await rf(`${origin}/data`, { headers })
      expect(answer.status).toBe(503)
      expect(answer.headers.get('x-resilient-source')).toBeNull()
    }
  })

  it('a 200 reached through a redirect (an expired session sent to /login) never replaces the good copy', async () => {
    const { rf } = make()
    await (await rf(`${origin}/data`)).text()
    await new Promise((resolve) => setTimeout(resolve, 1_100))
    mode = 'login'
    const login = await rf(`${origin}/data`)
    expect(login.redirected).toBe(true)
    expect(await login.text()).toBe('<html>login</html>')
    mode = 503
    const answer = await rf(`${origin}/data`)
    expect(answer.headers.get('x-resilient-source')).toBe('fallback')
    expect(await answer.json()).toEqual({ status: 200, user: null })
  })

  it('a store whose reads never settle costs a storeerror, never a hung call', async () => {
    const hung: FallbackStore = { get: () => new Promise(() => {}), put: async () => {}, delete: async () => {}, clear: async () => {} }
    const { rf, storeErrors } = make({ timeout: { attempt: 200, total: 300 } }, hung)
    mode = 503
    expect((await rf(`${origin}/data`)).status).toBe(503)
    expect(storeErrors).toHaveLength(1)
    const controller = new AbortController()
    const aborted = rf(`${origin}/data`, { signal: controller.signal }).catch((error: unknown) => error)
    setTimeout(() => controller.abort('gone'), 50)
    expect(await aborted).toBe('gone')
  })
})
