/**
 * One page of test/e2e/share-gc.test.ts, bundled by esbuild: a shareAcrossTabs() made once, and instances made on it
 * and dropped (as per component), whose breakers a FinalizationRegistry counts once collected.
 */
import { createResilientFetch } from '../../../src/index.js'
import { shareAcrossTabs } from '../../../src/share/tabs.js'

const share = shareAcrossTabs({ name: 'rf-share-gc' })
const stub = async (): Promise<Response> => new Response('ok', { status: 200 })
let collected = 0
const registry = new FinalizationRegistry(() => void collected++)

const shareGc = {
  hasGc: (): boolean => typeof (globalThis as { gc?: unknown }).gc === 'function',
  /** Makes `n` instances on the share, calls each once, and drops it (its breaker is watched). */
  async make(n: number): Promise<void> {
    for (let i = 0; i < n; i++) {
      const rf = createResilientFetch({ fetch: stub, share, retry: false, fallback: false })
      await rf('https://api.test/items')
      registry.register(rf.breaker('https://api.test')!, i)
    }
  },
  /** Full GCs with turns between them for the registry's callbacks; how many breakers were collected. */
  async collect(): Promise<number> {
    const gc = (globalThis as unknown as { gc: () => void }).gc
    for (let i = 0; i < 5; i++) {
      gc()
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
    return collected
  },
}

declare global {
  interface Window {
    shareGc: typeof shareGc
  }
}
window.shareGc = shareGc
document.documentElement.dataset.ready = 'true'
