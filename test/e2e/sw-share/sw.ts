/**
 * A Service Worker whose instance has a `BreakerShare` of the user's own (an object: connect and publish, which it
 * records), importing the library as the README tells Service Worker users (the `resilient-fetch/service-worker`
 * entry, here its source); sw-share-off.test.ts also builds it against the main entry (src/index.ts) code-split, whose
 * chunks (the share's side of the breaker stage among them) a Service Worker cannot import(). Its fetch handler answers
 * `/share/*` through that instance (one failure opens its breaker, for a minute; no retry, no fallback); a rejection
 * becomes a 504 whose JSON names the error. A message (with a port) asks for what the console said (console.warn), how
 * many times the share was connected and what was published to it.
 */
import { warnings } from '../sw-page/count.js'
import { scope } from '../sw-page/scope.js'
import { createResilientFetch, type BreakerShare, type ResilienceError } from '../../../src/service-worker.js'

let connected = 0
const published: string[] = []
const share: BreakerShare = {
  connect: () => void connected++,
  publish: (key, state) => void published.push(`${key} ${state.state}`),
}
const rf = createResilientFetch({ retry: false, fallback: false, breaker: { failureThreshold: 1, openDuration: 60_000 }, share })

scope.addEventListener('fetch', (event) => {
  if (!new URL(event.request.url).pathname.startsWith('/share/')) return
  event.respondWith(
    rf(event.request).then(
      (response) => new Response(response.body, { status: response.status, statusText: response.statusText, headers: response.headers }),
      (error: ResilienceError) => Response.json({ name: error.name, message: String(error.message) }, { status: 504 }),
    ),
  )
})

scope.addEventListener('message', (event) => event.ports[0]!.postMessage({ warnings: warnings(), connected, published }))
