import type { Fallback, NormalizedFallbackOptions } from './fallback.js'

type Emit = (type: 'storeerror', detail: { key: string; error: unknown }) => void

/**
 * The fallback stage, loaded as its own chunk when the instance is created: the pipeline's bundle
 * carries none of the storage code, and the first responses are kept (as clones) until it is here.
 */
export function lazyFallback(options: NormalizedFallbackOptions, emit: Emit, now: () => number): Fallback {
  let loaded: Fallback | undefined
  // Counted here too: a clear() while the chunk loads must drop the responses kept for it.
  let epoch = 0
  // The last response kept for the chunk: a recall waits until it is remembered, so it finds its copy.
  let kept: Promise<void> | undefined
  const loading = import('./fallback.js').then((m) => (loaded = m.createFallback(options, emit, now)))
  const failed = (url: string, error: unknown) => emit('storeerror', { key: url, error })
  loading.catch(() => {})
  return {
    remember(request, response, waitUntil, from) {
      if (from?.epoch !== undefined && from.epoch !== epoch) return
      if (loaded !== undefined) return loaded.remember(request, response, waitUntil)
      const receivedAt = from?.receivedAt ?? now()
      const since = epoch
      let copy: Response
      try {
        copy = response.clone()
      } catch (error) {
        return failed(request.url, error)
      }
      const work = loading.then(
        (fallback) => {
          if (since === epoch) fallback.remember(request, copy, waitUntil, { receivedAt })
          // remember() read its own clone of the copy; this branch is not needed.
          copy.body?.cancel().catch(() => {})
        },
        (error) => {
          copy.body?.cancel().catch(() => {})
          failed(request.url, error)
        },
      )
      kept = work
      waitUntil?.(work)
    },
    async recall(request, bound) {
      try {
        if (kept !== undefined) await kept
        return await (loaded ?? (await loading)).recall(request, bound)
      } catch (error) {
        failed(request.url, error)
        return undefined
      }
    },
    epoch: () => epoch,
    async clear() {
      epoch++
      await (loaded ?? (await loading)).clear()
    },
  }
}
