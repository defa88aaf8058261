/**
 * One tab of the share-across-tabs tests and bench, bundled by esbuild: an instance whose transport is a stub
 * the test drives through window.tab. Query: threshold, open (ms), name, broadcast=off (storage events only),
 * locks=off (no Web Locks: the probe is claimed in storage and on the channel), storage=off (no localStorage).
 */
import { createResilientFetch } from '../../../src/index.js'
import { shareAcrossTabs } from '../../../src/share/tabs.js'

const URL_API = 'https://api.test/items'
const KEY = 'https://api.test'
const params = new URLSearchParams(location.search)

// The storage-event path, as in a browser without BroadcastChannel.
if (params.get('broadcast') === 'off') Reflect.deleteProperty(globalThis, 'BroadcastChannel')
// No usable localStorage, as where storage is disabled: the channel alone carries claims.
if (params.get('storage') === 'off') Object.defineProperty(window, 'localStorage', { get: () => { throw new DOMException('disabled', 'SecurityError') }, configurable: true })
// The claim path, as in a browser without Web Locks.
if (params.get('locks') === 'off') Object.defineProperty(navigator, 'locks', { value: undefined, configurable: true })

/** The stub upstream: answers `status`, or holds every call until release() when `hold` is set. */
const transport = { status: 500, hold: false, calls: 0, held: [] as ((status: number) => void)[] }
async function stub(): Promise<Response> {
  transport.calls++
  const status = transport.hold ? await new Promise<number>((resolve) => transport.held.push(resolve)) : transport.status
  return new Response(`status ${status}`, { status })
}

const name = params.get('name') ?? undefined
const share = shareAcrossTabs(name === undefined ? undefined : { name })
const rf = createResilientFetch({
  fetch: stub,
  share,
  retry: false,
  fallback: false,
  timeout: false,
  breaker: { window: 'consecutive', failureThreshold: Number(params.get('threshold') ?? 3), openDuration: Number(params.get('open') ?? 1000) },
})

/** State changes with a timestamp comparable across tabs (timeOrigin + now). */
const changes: { from: string; to: string; at: number }[] = []
rf.addEventListener('statechange', (event) => changes.push({ from: event.detail.from, to: event.detail.to, at: performance.timeOrigin + performance.now() }))

/** Settled calls' outcomes: a status or an error name. */
const results: (number | string)[] = []

const call = (): Promise<number | string> =>
  rf(URL_API).then(
    (response) => response.status,
    (error: Error) => error.name,
  )

/** Outcomes of claimAt(), in the order they settled. */
const claims: { key: string; won: boolean }[] = []

const tab = {
  KEY,
  claims,
  /** Asks the share for `key`'s probe at wall-clock time `at`: every tab given the same `at` claims at once. */
  claimAt(key: string, at: number, ttl: number): void {
    setTimeout(() => void share.acquireProbe(key, ttl).then((won) => claims.push({ key, won })), Math.max(0, at - Date.now()))
  },
  transport,
  changes,
  results,
  call,
  /** Starts n calls without waiting; their outcomes land in results. */
  fire(n: number): void {
    for (let i = 0; i < n; i++) void call().then((r) => results.push(r))
  },
  release(status: number): void {
    for (const resolve of transport.held.splice(0)) resolve(status)
  },
  state: (): string | undefined => rf.breaker(KEY)?.state,
  nextProbeAt: (): number | undefined => rf.snapshot().breakers.find((b) => b.key === KEY)?.nextProbeAt,
  close: () => rf.breaker(KEY)?.close(),
  stored: (): string | null => localStorage.getItem(`${name ?? 'resilient-fetch'}:breaker:${KEY}`),
}

declare global {
  interface Window {
    tab: typeof tab
  }
}
window.tab = tab
document.documentElement.dataset.ready = 'true'
