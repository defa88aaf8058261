// A consumer's use of the public API, type-checked (never run) by scripts/check-types.mjs against the
// packed package in every lib (Workers, Node, DOM), module resolution and module format. Copied as
// .mts and .cts; `typeof import()` resolves with the copy's own format (import or require condition).
type Root = typeof import('resilient-fetch')
type Idb = typeof import('resilient-fetch/idb')
type Cache = typeof import('resilient-fetch/cache')
type Metrics = typeof import('resilient-fetch/metrics')
type Share = typeof import('resilient-fetch/share')
type Worker = typeof import('resilient-fetch/worker')
type Ky = typeof import('resilient-fetch/ky')
type ServiceWorker = typeof import('resilient-fetch/service-worker')
// The Service Worker entry is the main entry, value for value and type for type.
export const sameEntry: [ServiceWorker, Root] = [{} as Root, {} as ServiceWorker]
export type SameTypes = [import('resilient-fetch/service-worker').ResilienceError, import('resilient-fetch/service-worker').ResilientFetchOptions, import('resilient-fetch/service-worker').MemoryStoreOptions]

type Api = { root: Root; idb: Idb; cache: Cache; metrics: Metrics; share: Share; worker: Worker; ky: Ky }

export async function exercise({ root, idb, cache, metrics, share, worker, ky }: Api): Promise<string> {
  const rf = root.createResilientFetch({
    fetch: globalThis.fetch,
    key: (request) => new URL(request.url).host,
    breaker: { window: { type: 'count', size: 20 }, failureThreshold: 3, openDuration: { base: 1_000, max: 60_000 } },
    bulkhead: { maxConcurrent: 10, maxQueue: 0 },
    timeout: { attempt: 2_000, total: false },
    retry: { limit: 1, backoff: { jitter: 'equal' } },
    isFailure: ({ response, error }) => error !== undefined || (response?.status ?? 0) >= 500,
    fallback: { store: idb.idbStore(), maxAge: 60_000 },
    share: share.shareAcrossTabs({ name: 'app' }),
  })
  const stores = [cache.cacheStore(), root.memoryStore()]

  // fetch's three kinds of input, and fetch's own init plus ours.
  const a: Response = await rf('https://api.example/a')
  await rf(new URL('https://api.example/b'), { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })
  await rf(new Request('https://api.example/c'), { resilience: { key: 'c', timeout: 500, retry: false, fallback: false } })
  await root.resilientFetch('https://api.example/d', { signal: AbortSignal.timeout(1_000) })
  const info = root.resilienceInfo(a)
  const age = info?.source === 'fallback' ? info.storedAt : undefined

  const onChange = (event: CustomEvent<{ key: string; from: string; to: string }>): void => void event.detail.to
  rf.addEventListener('statechange', onChange, { once: true, signal: new AbortController().signal })
  rf.removeEventListener('statechange', onChange, { capture: false })
  rf.addEventListener('timeout', (event) => void event.detail.scope, true)
  rf.breaker('https://api.example')?.open(1_000)

  try {
    await rf('https://api.example/e')
  } catch (error) {
    if (error instanceof root.TimeoutError) return error.scope
    if (error instanceof root.CircuitOpenError || error instanceof root.BulkheadRejectedError) return error.message
  }

  const proxy = worker.createProxy({ routes: { '/api/': ['https://a.example', 'https://b.example'] }, store: 'memory' })
  const proxied: Response = await proxy(new Request('https://edge.example/api/x'), {}, { waitUntil: (p) => void p })
  const viaDefault: Response = await worker.default.fetch(new Request('https://edge.example/'), { UPSTREAM: 'https://a.example' }, undefined)
  const config = worker.configFromEnv({ UPSTREAM: 'https://a.example' })

  const api = ky.resilientKy({ timeout: 1_000, ky: { prefixUrl: 'https://api.example' } })
  const kySnapshot = api.resilientFetch.snapshot()

  const text: string = metrics.toPrometheus(rf.snapshot(), {})
  return [text, metrics.CONTENT_TYPE, age, stores.length, proxied.status, viaDefault.status, config.timeout, kySnapshot.at].join()
}
