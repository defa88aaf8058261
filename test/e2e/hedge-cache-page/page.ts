/** The page: a hedged call here, or in a dedicated Worker (worker.js, a module) it starts; window.hedging for page.evaluate. */
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
}

declare global {
  interface Window {
    hedging: typeof hedging
  }
}
window.hedging = hedging
document.documentElement.dataset.ready = 'true'
