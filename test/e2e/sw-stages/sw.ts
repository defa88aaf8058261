/**
 * A Service Worker with the hedge, throttle and coalesce options on, importing the library as the README tells Service
 * Worker users (the `resilient-fetch/service-worker` entry, here its source); sw-stages.test.ts also builds it against
 * the main entry (src/index.ts) code-split, whose chunks a Service Worker cannot import(). Its fetch handler answers
 * `/hedge/*` through an instance that hedges, `/throttle/*` through one that throttles (with the fallback on the default
 * 'auto' store), `/coalesce/*` through one that coalesces; `twin` has all three on and answers nothing (a second
 * instance, for what is said once per instance). No retries, no breaker: the stage under test alone acts. A rejection
 * becomes a 504 whose JSON names the error. A message (with a port) asks for what the console said (console.warn), the
 * throttling instance's events and every instance's totals.
 *
 * Math.random is fixed at 0.1, so the throttle sheds an attempt exactly when its probability is above 0.1: with no
 * retries it is read nowhere else here.
 */
import { counted, warnings } from '../sw-page/count.js'
import { scope } from '../sw-page/scope.js'
import { createResilientFetch, resilienceInfo, type ResilienceError } from '../../../src/service-worker.js'

Math.random = () => 0.1

const common = { retry: false, breaker: false, timeout: { attempt: 1_500, total: 2_000 } } as const
const hedged = createResilientFetch({ ...common, fallback: false, hedge: { delay: 300 } })
const throttled = createResilientFetch({ ...common, throttle: {} })
const coalesced = createResilientFetch({ ...common, fallback: false, coalesce: true })
const twin = createResilientFetch({ ...common, fallback: false, hedge: { delay: 300 }, throttle: {}, coalesce: true })

/** The throttling instance's events, by type (a storeerror with its error). */
const events: string[] = []
for (const type of ['throttle', 'reject', 'fallback', 'storeerror'] as const) {
  throttled.addEventListener(type, (event) => events.push(type === 'storeerror' ? `storeerror ${String((event.detail as { error: unknown }).error)}` : type))
}

scope.addEventListener('fetch', (event) => {
  const path = new URL(event.request.url).pathname
  const rf = path.startsWith('/hedge/') ? hedged : path.startsWith('/throttle/') ? throttled : path.startsWith('/coalesce/') ? coalesced : undefined
  if (!rf) return
  const waitUntil = counted(event.waitUntil.bind(event))
  event.respondWith(
    rf(event.request, { resilience: { waitUntil } }).then(
      (response) => {
        const headers = new Headers(response.headers)
        const info = resilienceInfo(response)
        headers.set('x-sw-info', JSON.stringify({ hedged: info?.hedged === true, coalesced: info?.coalesced === true }))
        return new Response(response.body, { status: response.status, statusText: response.statusText, headers })
      },
      (error: ResilienceError & { probability?: number }) =>
        Response.json({ name: error.name, message: String(error.message), probability: error.probability }, { status: 504 }),
    ),
  )
})

scope.addEventListener('message', (event) => {
  const totals = { hedged: hedged.snapshot().totals, throttled: throttled.snapshot().totals, coalesced: coalesced.snapshot().totals, twin: twin.snapshot().totals }
  event.ports[0]!.postMessage({ warnings: warnings(), events, totals })
})
