/** The page: a hedged call here, in a dedicated Worker (worker.js, a module) it starts, or in a Service Worker; window.hedging for page.evaluate. */
import { hedgedCall, type Ask, type Answer } from './call.js'

const hedging = {
  call: hedgedCall,
  inWorker(ask: Ask): Promise<Answer> {
    const worker = new Worker('./worker.js', { type: 'module' })
    return new Promise<Answer>((resolve) => {
      worker.onmessage = (event: MessageEvent<Answer>) => resolve(event.data)
      worker.onerror = (event) => resolve({ error: `worker: ${event.message}` })
      worker.postMessage(ask)
    }).finally(() => worker.terminate())
  },
  /** A GET of `url` from this page through a Service Worker (sw.js, a module) that makes the call with its fetch event's Request. */
  async inServiceWorker(url: string): Promise<Answer> {
    await navigator.serviceWorker.register('./sw.js', { type: 'module', scope: './' })
    await navigator.serviceWorker.ready
    if (navigator.serviceWorker.controller === null) {
      await new Promise((resolve) => navigator.serviceWorker.addEventListener('controllerchange', resolve, { once: true }))
    }
    return (await fetch(url)).json() as Promise<Answer>
  },
}

declare global {
  interface Window {
    hedging: typeof hedging
  }
}
window.hedging = hedging
document.documentElement.dataset.ready = 'true'
