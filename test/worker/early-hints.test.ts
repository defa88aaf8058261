import { describe, expect, inject, it } from 'vitest'
import { createProxy } from '../../src/worker/index.js'
import { context, get, snapshotOf } from './helpers.js'

// workerd's fetch takes an upstream's interim 103 Early Hints for its final answer (the rest of the stream, the real
// status line included, becomes the body). Against a real upstream (shared-upstream.ts) that sends 103 and then 502,
// the proxy must take it for what it is: a failed attempt, as a network error is.
const [A, B] = inject('sharedUpstreamUrls')
/** From now on `path` answers 103 and then 502 on `origin`'s port only. */
const early = async (origin: string, path: string) => void (await (await fetch(`${origin}/__early?path=${encodeURIComponent(path)}`)).body?.cancel())
const hits = async (path: string) => Number(await (await fetch(`${A}/__hits?path=${encodeURIComponent(path)}`)).text())
const failuresOf = async (handler: ReturnType<typeof createProxy>, origin: string) => (await snapshotOf(handler)).breakers.find((b) => b.key === origin)?.failures ?? 0

describe('an upstream that answers 103 Early Hints, then 502', () => {
  it('is an upstream error to the client, a failure to the origin\'s breaker, and no copy is kept', async () => {
    await early(A, '/early/none')
    const handler = createProxy({ upstream: A, store: 'memory' })
    const ctx = context()
    for (let i = 1; i <= 2; i++) {
      const response = await handler(get('/api/early/none'), undefined, ctx)
      await ctx.settle()
      expect(response.status).toBe(503)
      expect(await response.json()).toEqual({ error: 'upstream_error', key: A })
      expect(await failuresOf(handler, A)).toBe(i)
    }
  })

  it('is answered by the last good copy, as a network error is', async () => {
    const handler = createProxy({ upstream: A, store: 'memory' })
    const ctx = context()
    const good = await handler(get('/api/early/copy'), undefined, ctx)
    expect(good.status).toBe(200)
    const body = await good.text()
    await ctx.settle()
    await early(A, '/early/copy')
    const response = await handler(get('/api/early/copy'), undefined, ctx)
    expect(response.status).toBe(200)
    expect(response.headers.get('x-resilient-source')).toBe('fallback')
    expect(await response.text()).toBe(body)
    expect(await failuresOf(handler, A)).toBe(1)
  })

  it('fails over to the pool\'s other origin, which answers', async () => {
    await early(A, '/early/pool')
    const handler = createProxy({ routes: { '/api/': [A, B] }, store: 'memory' })
    const before = await hits('/early/pool')
    // The pool starts at a rotating origin: of two requests, one starts at A.
    for (let i = 0; i < 2; i++) {
      const response = await handler(get('/api/early/pool'))
      expect(response.status).toBe(200)
      expect(await response.json()).toEqual({ user: null, path: '/early/pool' })
    }
    expect(await hits('/early/pool')).toBe(before + 3)
    expect([await failuresOf(handler, A), await failuresOf(handler, B)]).toEqual([1, 0])
  })
})
