import { describe, expect, inject, it, vi } from 'vitest'
import worker from '../../src/worker/index.js'
import type { ResilienceSnapshot } from '../../src/types.js'
import { context } from './helpers.js'

// The reference scenario, end to end: the deployable Worker built from [vars], in workerd,
// in front of the real mock downstream (demo/mock-upstream.mjs on 127.0.0.1, started by global-setup.ts).
const upstream = inject('upstreamUrl')
const env = { UPSTREAM_URL: upstream, FAILURE_THRESHOLD: '5', WINDOW_MS: '30000', OPEN_DURATION_MS: '300', TIMEOUT_MS: '2000' }

async function control(query: string) {
  const response = await fetch(`${upstream}/control?${query}`)
  expect(response.status).toBe(200)
}

async function upstreamCalls(): Promise<{ data: number; errors: number }> {
  return (await fetch(`${upstream}/stats`)).json()
}

async function breakerState(): Promise<string | undefined> {
  const response = await worker.fetch(new Request('http://proxy.test/metrics.json'), env, undefined)
  const snapshot = (await response.json()) as ResilienceSnapshot
  return snapshot.breakers.find((b) => b.key === upstream)?.state
}

describe('reference scenario', () => {
  it('passes, falls back, opens and stops calling the downstream, then probes, closes and serves fresh responses', async () => {
    const ctx = context()
    const call = async () => {
      const response = await worker.fetch(new Request('http://proxy.test/api/data'), env, ctx)
      return { status: response.status, source: response.headers.get('x-resilient-source'), body: (await response.json()) as { id: number } }
    }
    await control('error_rate=0&latency_ms=0&reset_stats=1')

    // 1. Healthy: 20 requests pass, fresh from the downstream.
    for (let i = 0; i < 20; i++) {
      const { status, source, body } = await call()
      expect(status).toBe(200)
      expect(source).toBeNull()
      expect(body.id).toEqual(expect.any(Number))
    }
    await ctx.settle()
    expect((await upstreamCalls()).data).toBe(20)

    // 2. 80% errors: every answer is still a 200, failures served from the last known good copy,
    //    until 5 failures open the breaker.
    await control('error_rate=80')
    let fallbacks = 0
    for (let i = 0; i < 40 && (await breakerState()) !== 'open'; i++) {
      const { status, source } = await call()
      expect(status).toBe(200)
      if (source === 'fallback') fallbacks++
    }
    expect(await breakerState()).toBe('open')
    expect(fallbacks).toBeGreaterThanOrEqual(5)
    const atOpen = await upstreamCalls()
    expect(atOpen.errors).toBe(5)

    // 3. Open: the downstream is not called any more, every answer is the fallback.
    for (let i = 0; i < 10; i++) {
      const { status, source } = await call()
      expect(status).toBe(200)
      expect(source).toBe('fallback')
    }
    expect((await upstreamCalls()).data).toBe(atOpen.data)

    // 4. Recovered: after the open duration the breaker lets a probe through, closes, and responses are fresh.
    await control('error_rate=0')
    await new Promise((r) => setTimeout(r, 350))
    const probe = await call()
    expect(probe.status).toBe(200)
    expect(probe.source).toBeNull()
    expect(await breakerState()).toBe('closed')
    expect((await upstreamCalls()).data).toBe(atOpen.data + 1)
    for (let i = 0; i < 5; i++) expect((await call()).source).toBeNull()
    await ctx.settle()
  })

  it('keeps the last known good copy in the Cache API, so a fresh isolate can serve it', async () => {
    const ctx = context()
    await control('error_rate=0')
    const first = await worker.fetch(new Request('http://proxy.test/api/data?persist=1'), env, ctx)
    const body = await first.text()
    await ctx.settle()
    // Other vars build another proxy with empty memory, as a new isolate would; the upstream is down for it.
    const refused = vi.spyOn(globalThis, 'fetch').mockRejectedValue(new TypeError('connection refused'))
    try {
      const response = await worker.fetch(new Request('http://proxy.test/api/data?persist=1'), { ...env, TIMEOUT_MS: '1999' }, undefined)
      expect(refused).toHaveBeenCalledTimes(1)
      expect(response.status).toBe(200)
      expect(response.headers.get('x-resilient-source')).toBe('fallback')
      expect(await response.text()).toBe(body)
    } finally {
      refused.mockRestore()
    }
  })

  it('without a stored copy, an open breaker answers 503 circuit_open with Retry-After', async () => {
    const ctx = context()
    const cold = { ...env, FAILURE_THRESHOLD: '2', OPEN_DURATION_MS: '5000' }
    await control('error_rate=100')
    try {
      const path = `http://proxy.test/api/data?cold=${Date.now()}`
      for (let i = 0; i < 2; i++) {
        const response = await worker.fetch(new Request(path), cold, ctx)
        expect(response.status).toBe(503)
        expect(await response.json()).toEqual({ error: 'upstream_error', key: upstream })
      }
      const response = await worker.fetch(new Request(path), cold, ctx)
      expect(response.status).toBe(503)
      expect(await response.json()).toEqual({ error: 'circuit_open', key: upstream })
      expect(Number(response.headers.get('retry-after'))).toBeGreaterThanOrEqual(4)
    } finally {
      await control('error_rate=0')
      await ctx.settle()
    }
  })
})
