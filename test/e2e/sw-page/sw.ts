/**
 * The Service Worker under test, importing the library as the README tells Service Worker users (the
 * `resilient-fetch/service-worker` entry, here its source); the test also builds it against the main entry (src/index.ts),
 * bundled into one file as a classic script (an IIFE) and as a module, and code-split. Its fetch handler answers every
 * `/api/*` request of its pages (the upstream is another origin on 127.0.0.1) through one resilient fetch, as the README
 * tells Worker users: `resilience: { waitUntil }` on each call, and every `/stages/*` request through a second one with
 * hedging and coalescing on. A rejection becomes a 504 whose JSON names the error, so the page sees what the Service
 * Worker saw. Navigations to `/pages/*` (same-origin HTML) go through the first one, and to `/own/*` through one with
 * `private: true`, answered as the README shows (rf's response as it is, an opaque redirect too). Messages (with a port
 * to answer on) ask for rf.snapshot(), rf.clear(), what is still pending, whether a clear was heard from another
 * instance, the events seen, what was said on the console and the navigations answered.
 */
import { counted, pending, warnings } from './count.js'
import { scope } from './scope.js'
import { createResilientFetch, resilienceInfo, type ResilienceError } from '../../../src/service-worker.js'

const rf = createResilientFetch({
  retry: false,
  breaker: { failureThreshold: 3, openDuration: 60_000 },
  timeout: { attempt: 500, total: 2_000 },
})
/** Hedging (after 400 ms) and coalescing, off by default: each a chunk of its own in a code-split build. */
const staged = createResilientFetch({ retry: false, fallback: false, hedge: { delay: 400 }, coalesce: true, timeout: { attempt: 1_500, total: 2_000 } })
/** For the pages of one user: personal responses (Cache-Control: private) are kept too. */
const own = createResilientFetch({ retry: false, fallback: { private: true } })
/** The URL and redirect mode of each navigation the worker answered through rf, as the event gave them. */
const navigations: string[] = []
/** The events the instance emitted, by type, for the test to look at. */
const events: string[] = []
for (const type of ['fallback', 'storeerror', 'reject', 'statechange'] as const) {
  rf.addEventListener(type, (event) => events.push(type === 'storeerror' ? `storeerror ${String((event.detail as { error: unknown }).error)}` : type))
}
// Another instance's clear (the page's), as every instance on the 'auto' store hears it.
let heard = 0
new BroadcastChannel('resilient-fetch:clear').onmessage = () => void heard++

scope.addEventListener('fetch', (event) => {
  const path = new URL(event.request.url).pathname
  if (event.request.mode === 'navigate' && (path.startsWith('/pages/') || path.startsWith('/own/'))) {
    navigations.push(`${event.request.url} ${event.request.redirect}`)
    const waitUntil = counted(event.waitUntil.bind(event))
    // /pages/hedged/*: through the instance that hedges.
    return event.respondWith((path.startsWith('/own/') ? own : path.startsWith('/pages/hedged/') ? staged : rf)(event.request, { resilience: { waitUntil } }))
  }
  if (!path.startsWith('/api/') && !path.startsWith('/stages/')) return
  const waitUntil = counted(event.waitUntil.bind(event))
  event.respondWith(
    (path.startsWith('/api/') ? rf : staged)(event.request, { resilience: { waitUntil } }).then(
      (response) => {
        // Where the answer came from, for the page: a fallback copy says so itself (X-Resilient-Source).
        const headers = new Headers(response.headers)
        const info = resilienceInfo(response)
        headers.set('x-sw-attempts', String(info?.attempts))
        headers.set('x-sw-info', JSON.stringify({ hedged: info?.hedged === true, coalesced: info?.coalesced === true }))
        return new Response(response.body, { status: response.status, statusText: response.statusText, headers })
      },
      (error: ResilienceError & { scope?: string; timeout?: number }) =>
        Response.json({ name: error.name, scope: error.scope, timeout: error.timeout, message: String(error.message) }, { status: 504 }),
    ),
  )
})

scope.addEventListener('message', (event) => {
  const port = event.ports[0]!
  const answer = async () => {
    const { ask } = event.data as { ask: 'snapshot' | 'clear' | 'pending' | 'heard' | 'events' | 'warnings' | 'navigations' }
    if (ask === 'snapshot') return rf.snapshot()
    if (ask === 'clear') return rf.clear().then(() => 'cleared')
    if (ask === 'heard') return heard
    if (ask === 'events') return events
    if (ask === 'warnings') return warnings()
    if (ask === 'navigations') return navigations
    return pending()
  }
  event.waitUntil(answer().then((value) => port.postMessage(value), (error: Error) => port.postMessage(`failed: ${error.name}: ${error.message}`)))
})
