/** A Service Worker: answers its page's GETs of the upstream's /h/* with what the hedged call of the fetch event's Request saw. */
import { hedged } from './call.js'

interface ExtendableEvent extends Event {
  waitUntil(promise: Promise<unknown>): void
}
interface FetchEvent extends ExtendableEvent {
  readonly request: Request
  respondWith(response: Promise<Response>): void
}
const scope = globalThis as unknown as {
  skipWaiting(): Promise<void>
  clients: { claim(): Promise<void> }
  addEventListener(type: 'install' | 'activate', listener: (event: ExtendableEvent) => void): void
  addEventListener(type: 'fetch', listener: (event: FetchEvent) => void): void
}

scope.addEventListener('install', (event) => event.waitUntil(scope.skipWaiting()))
scope.addEventListener('activate', (event) => event.waitUntil(scope.clients.claim()))
scope.addEventListener('fetch', (event) => {
  if (!new URL(event.request.url).pathname.startsWith('/h/')) return
  event.respondWith(hedged(event.request).then((answer) => Response.json(answer, { headers: { 'access-control-allow-origin': '*' } })))
})
