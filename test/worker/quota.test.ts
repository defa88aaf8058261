import { describe, expect, inject, it } from 'vitest'
import { createProxy } from '../../src/worker/index.js'
import { context, get, snapshotOf } from './helpers.js'

// Through a shared proxy, a 429 is one client's quota, not the upstream's trouble: against a real upstream
// (shared-upstream.ts) that answers one API key 429 and everyone else 200.
const [A, B] = inject('sharedUpstreamUrls')
const hits = async (path: string) => Number(await (await fetch(`${A}/__hits?path=${encodeURIComponent(path)}`)).text())

describe('a 429 through the shared proxy', () => {
  it('goes back to its client with its Retry-After, and opens nothing for the others', async () => {
    const handler = createProxy({ upstream: A, store: 'memory' })
    const limited = await handler(get('/api/quota/one', { headers: { 'x-api-key': 'over-quota' } }))
    expect(limited.status).toBe(429)
    expect(limited.headers.get('retry-after')).toBe('3600')
    expect(await limited.json()).toEqual({ error: 'quota' })
    const other = await handler(get('/api/quota/one', { headers: { 'x-api-key': 'within-quota' } }))
    expect(other.status).toBe(200)
    expect(await other.json()).toMatchObject({ path: '/quota/one' })
    expect(await (await handler(get('/health'))).json()).toMatchObject({ status: 'ok', breakers: { [A]: 'closed' } })
  })

  it('counts as no failure: many of them leave the breaker closed', async () => {
    const handler = createProxy({ upstream: A, store: 'memory', failureThreshold: 2 })
    for (let i = 0; i < 4; i++) expect((await handler(get('/api/quota/two', { headers: { 'x-api-key': 'over-quota-bare' } }))).status).toBe(429)
    expect((await handler(get('/api/quota/two'))).status).toBe(200)
    const snapshot = await snapshotOf(handler)
    expect(snapshot.totals.failures).toBe(0)
    expect(snapshot.breakers.find((b) => b.key === A)?.state).toBe('closed')
  })

  it('is not retried on the pool\'s other origin', async () => {
    const handler = createProxy({ routes: { '/api/': [A, B] }, store: 'memory' })
    const before = await hits('/quota/three')
    const response = await handler(get('/api/quota/three', { headers: { 'x-api-key': 'over-quota' } }))
    expect(response.status).toBe(429)
    expect(await hits('/quota/three')).toBe(before + 1)
  })

  it('is not answered by the last good copy: the client over its quota is told so', async () => {
    const handler = createProxy({ upstream: A, store: 'memory' })
    const ctx = context()
    expect((await handler(get('/api/quota/four'), undefined, ctx)).status).toBe(200)
    await ctx.settle()
    const limited = await handler(get('/api/quota/four', { headers: { 'x-api-key': 'over-quota' } }), undefined, ctx)
    expect(limited.status).toBe(429)
    expect(limited.headers.has('x-resilient-source')).toBe(false)
  })

  it('a 503 with Retry-After still opens the origin until then', async () => {
    const handler = createProxy({ upstream: A, store: 'memory' })
    expect((await handler(get('/api/busy/one'))).status).toBe(503)
    const refused = await handler(get('/api/quota/five'))
    expect(refused.status).toBe(503)
    expect(await refused.json()).toEqual({ error: 'circuit_open', key: A })
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(119)
  })
})
