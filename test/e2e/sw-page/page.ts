/** The page: registers the Service Worker under test and exposes helpers on window.app for page.evaluate. */
import { createResilientFetch } from '../../../src/index.js'

const app = {
  /** Registers `script` (classic or module) and resolves once it controls this page. */
  async register(script: string, type: 'classic' | 'module'): Promise<void> {
    await navigator.serviceWorker.register(script, { type, scope: './' })
    await navigator.serviceWorker.ready
    if (navigator.serviceWorker.controller === null) {
      await new Promise((resolve) => navigator.serviceWorker.addEventListener('controllerchange', resolve, { once: true }))
    }
  },
  /** A fetch through the Service Worker: what the page sees of its answer. */
  async get(url: string, init?: RequestInit) {
    const response = await fetch(url, init)
    return {
      status: response.status,
      source: response.headers.get('x-resilient-source'),
      body: await response.text(),
      /** resilienceInfo's hedged and coalesced, as the Service Worker saw them. */
      info: JSON.parse(response.headers.get('x-sw-info') ?? 'null') as { hedged: boolean; coalesced: boolean } | null,
    }
  },
  /** Asks the Service Worker something (see sw.ts) and resolves with its answer. */
  ask(ask: string): Promise<unknown> {
    const channel = new MessageChannel()
    return new Promise((resolve) => {
      channel.port1.onmessage = (event) => resolve(event.data)
      navigator.serviceWorker.controller!.postMessage({ ask }, [channel.port2])
    })
  },
  /** The keys of the 'auto' store's cache (the origin's: the page's and the Service Worker's), as the URLs they stand for. */
  async stored(): Promise<string[]> {
    const keys = await (await caches.open('resilient-fetch')).keys()
    return keys.map((request) => decodeURIComponent(request.url.slice('https://resilient-fetch.invalid/'.length))).sort()
  },
  /** The page's own instance, on the default 'auto' store. */
  rf: createResilientFetch({ retry: false }),
  /** What a test keeps in the page between evaluate calls. */
  held: undefined as Promise<string> | undefined,
}

declare global {
  interface Window {
    app: typeof app
  }
}
window.app = app
document.documentElement.dataset.ready = 'true'
