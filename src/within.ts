/**
 * A bound on work that may hang (a store, the fallback's chunk): its own module, as the fallback stage (loaded up front)
 * and the fallback's chunk both use it, and the rest of store/backend.ts need not load up front.
 */

/** A read after a failure at the call's total deadline may still take this long, so that failure can be answered from disk. */
export const READ_GRACE = 100

/**
 * Settles as `work` does, or rejects with `message` when `ms` pass first (no timer when undefined; resolves then when
 * there is no message: a wait), or with the signal's reason when it aborts.
 */
export function within<T>(work: Promise<T>, ms: number | undefined, message: string | undefined, signal?: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => done(reject, signal!.reason)
    const timer = ms === undefined ? undefined : setTimeout(() => done(message === undefined ? resolve : reject, new Error(message)), ms)
    // Whichever way out comes first clears the others: no timer or listener outlives the race.
    function done(settle: (value: never) => void, value: unknown): void {
      clearTimeout(timer)
      signal?.removeEventListener('abort', onAbort)
      settle(value as never)
    }
    // Watched first, even when the signal has aborted already: a rejection of work we gave up on is never unhandled.
    work.then((value) => done(resolve, value), (error) => done(reject, error))
    if (signal?.aborted) return onAbort()
    signal?.addEventListener('abort', onAbort)
  })
}
