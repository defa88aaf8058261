// The proxy's last-known-good copy in a local Workers KV namespace survives a restart of the
// runtime: the bundled Worker in workerd (Miniflare) with KV persisted to a temp dir outside the
// repo, in front of the real mock upstream on 127.0.0.1.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Miniflare } from 'miniflare'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startMockUpstream } from '../demo/mock-upstream.mjs'
import { bundleProxy } from '../scripts/bundle-proxy.mjs'

interface Mock {
  url: string
  close(): Promise<void>
}

let script: string
let mock: Mock
let persist: string

beforeAll(async () => {
  script = await bundleProxy()
  mock = await startMockUpstream({ port: 0 })
  persist = await mkdtemp(join(tmpdir(), 'rf-kv-restart-'))
}, 60_000)

afterAll(async () => {
  await mock?.close()
  if (persist !== undefined) await rm(persist, { recursive: true, force: true })
})

/** The deployable Worker as wrangler.toml configures it, with LAST_KNOWN_GOOD persisted to `persist`. */
function runtime(): Miniflare {
  return new Miniflare({
    modules: true,
    script,
    compatibilityDate: '2026-04-01',
    compatibilityFlags: ['enable_request_signal'],
    bindings: { UPSTREAM_URL: mock.url },
    kvNamespaces: ['LAST_KNOWN_GOOD'],
    kvPersist: join(persist, 'kv'),
  })
}

async function control(query: string): Promise<void> {
  expect((await fetch(`${mock.url}/control?${query}`)).status).toBe(200)
}

async function call(mf: Miniflare, path: string) {
  const response = await mf.dispatchFetch(`http://proxy.test${path}`)
  return { status: response.status, source: response.headers.get('x-resilient-source'), body: (await response.json()) as Record<string, unknown> }
}

describe('LAST_KNOWN_GOOD across a restart', () => {
  it('a copy written to KV is served after the upstream fails, and again after the runtime restarts', async () => {
    await control('error_rate=0&latency_ms=0')
    const first = runtime()
    let fresh: Record<string, unknown>
    try {
      const live = await call(first, '/api/data')
      expect(live).toMatchObject({ status: 200, source: null })
      fresh = live.body
      // The copy is written in the background (waitUntil): wait for it to land in KV.
      const kv = await first.getKVNamespace('LAST_KNOWN_GOOD')
      for (let i = 0; i < 100 && (await kv.list({ prefix: 'resilient-fetch-proxy:' })).keys.length === 0; i++) await new Promise((r) => setTimeout(r, 20))
      expect((await kv.list({ prefix: 'resilient-fetch-proxy:' })).keys.map((k) => k.name)).toEqual(['resilient-fetch-proxy:GET http://proxy.test/api/data'])
      await control('error_rate=100')
      expect(await call(first, '/api/data')).toEqual({ status: 200, source: 'fallback', body: fresh })
    } finally {
      await first.dispose()
    }

    // A new runtime: nothing in memory, the upstream still failing; the copy comes from the persisted KV.
    const second = runtime()
    try {
      expect(await call(second, '/api/data')).toEqual({ status: 200, source: 'fallback', body: fresh })
      expect((await call(second, '/health')).body).toEqual({ status: 'ok', breakers: { [mock.url]: 'closed' }, fallback: 'kv' })
      // Another URL never had a copy.
      expect(await call(second, '/api/data?other=1')).toMatchObject({ status: 503, body: { error: 'upstream_error' } })
    } finally {
      await second.dispose()
      await control('error_rate=0')
    }
  }, 60_000)
})
