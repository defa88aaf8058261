import type { Fallback, NormalizedFallbackOptions } from './fallback.js'

type Emit = (type: 'storeerror', detail: { key: string; error: unknown }) => void

/**
 * The fallback stage, loaded as its own chunk when the instance is created: the pipeline's bundle
 * carries none of the storage code, and the first responses are kept (as clones) until it is here.
 */
export function lazyFallback(options: NormalizedFallbackOptions, emit: Emit, now: () => number): Fallback {
  let loaded: Fallback | undefined
  const loading = import('./fallback.js').then((m) => (loaded = m.createFallback(options, emit, now)))
  const failed = (url: string, error: unknown) => emit('storeerror', { key: url, error })
  loading.catch(() => {})
  return {
    remember(request, response, waitUntil) {
      if (loaded !== undefined) return loaded.remember(request, response, waitUntil)
      const receivedAt = now()
      let copy: Response
      try {
        copy = response.clone()
      } catch (error) {
        return failed(request.url, error)
      }
      const work = loading.then(
        (fallback) => {
          fallback.remember(request, copy, waitUntil, receivedAt)
          // remember() read its own clone of the copy; this branch is not needed.
          copy.body?.cancel().catch(() => {})
        },
        (error) => {
          copy.body?.cancel().catch(() => {})
          failed(request.url, error)
        },
      )
      waitUntil?.(work)
    },
    async recall(request) {
      try {
        return await (loaded ?? (await loading)).recall(request)
      } catch (error) {
        failed(request.url, error)
        return undefined
      }
    },
    async clear() {
      await (loaded ?? (await loading)).clear()
    },
  }
}
