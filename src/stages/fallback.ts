import type { NormalizedFallback } from '../options.js'
import type { FallbackRequest, StageFallback } from '../fallback.js'
import { baseUrl, isRequest } from '../url.js'
// Through core.ts, as the chunk it loads imports the core: core.ts then sits in the chunk the two share (see there).
import { aborted, discard, rekey } from '../core.js'
import { READ_GRACE, within } from '../within.js'
import { load, preloaded } from '../preloaded.js'
import type { Call, Next, Outcome, Runtime, Wrapper } from './types.js'

/** The fallback wrapper, and `clear()` behind `rf.clear()`. */
export interface FallbackWrapper extends Wrapper<undefined> {
  clear(): Promise<void>
}

/**
 * The fallback wrapper (GETs only; `resilience.fallback: false` opts a call out): a good 200 is
 * remembered off the hot path; a call that ends in a failure, a refusal or a timeout is answered by
 * the last good copy when there is one. A write (any other method but HEAD, OPTIONS, TRACE; fallback: false too) answered
 * 2xx or 3xx drops the copies of what it changed, off the hot path. The storage code loads as its own chunk when the instance
 * is created: until it is here, the first good responses wait for it as clones, never the caller.
 */
export function fallbackStage(options: NormalizedFallback | false, runtime: Runtime): FallbackWrapper | undefined {
  if (!options) return undefined
  let loaded: StageFallback | undefined
  // Counted here: a call notes it when it starts, and a clear() while the chunk loads drops the copies kept for it.
  let epoch = 0
  // The last copy kept for the chunk: a recall waits until it is remembered, so it finds its copy.
  let kept: Promise<void> | undefined
  const loading = load(preloaded.fallback, () => import('../fallback.js')).then((m) => (loaded = m.stageFallback(options, runtime, () => epoch++)))
  loading.catch(() => {})
  const failed = (call: Call, error: unknown) => runtime.events.emit('storeerror', { key: call.key, error })
  const uses = (call: Call) => call.method === 'GET' && call.options?.fallback !== false

  function remember(call: Call, response: Response, started: number): void {
    const request = describe(call)
    if (loaded) return loaded.remember(request, response, call.waitUntil)
    const receivedAt = runtime.now()
    try {
      const copy = response.clone()
      kept = loading
        .then(
          (fallback) => {
            if (started === epoch) fallback.remember(request, copy, call.waitUntil, receivedAt)
          },
          (error) => failed(call, error),
        )
        // remember() read its own clone of the copy, if any: this one is not needed. Not chained: a tee branch's
        // cancel settles only when the other branch ends, and a recall waits for `kept`.
        .finally(() => void copy.body?.cancel().catch(() => {}))
      call.waitUntil?.(kept)
    } catch (error) {
      failed(call, error)
    }
  }

  async function answer(call: Call, next: Next): Promise<Outcome> {
    // Noted at the start: a response to a call that started before rf.clear() is never stored.
    const started = epoch
    const { signal } = call
    const outcome = await next(call)
    // The caller's abort, and the caller's own mistake (a request fetch will not build, an isFailure that throws), are theirs to see.
    if (outcome.kind === 'aborted' || signal?.aborted || (outcome.kind === 'refused' && outcome.reason === 'request')) return outcome
    if (outcome.kind === 'response' && !outcome.failure) {
      if (outcome.response.status === 200 && started === epoch) remember(call, outcome.response, started)
      // If remember() cloned it, the caller's body is now a tee branch: keep it with what the first body was (src/deadline.ts).
      rekey(outcome.response)
      return outcome
    }
    const request = describe(call)
    let served: Outcome | undefined
    try {
      // The chunk's load, bounded as the recall is (the call's abort and total deadline): a hung load never hangs the call.
      if (!loaded) await within(loading, call.deadline && Math.max(READ_GRACE, call.deadline - runtime.now()), 'fallback chunk not loaded in time', signal)
      // Settled once the chunk is here (remember() is synchronous), so its copy is found.
      await kept
      served = await loaded!.answer(call, request)
    } catch (error) {
      // The chunk would not load (in time): there is no copy, the failure stands. The caller's abort is theirs, not the store's.
      if (!signal?.aborted) failed(call, error)
    }
    // No copy: the failure stands, unless the caller aborted meanwhile.
    if (served === undefined && !signal?.aborted) return outcome
    // The failed response is no longer the answer: the copy is, or the caller's abort.
    discard(outcome)
    return served ?? aborted(signal!.reason)
  }

  // Any call of an unsafe method, even one with fallback: false (it opts out of copies; the write happened all the same).
  async function write(call: Call, next: Next): Promise<Outcome> {
    const outcome = await next(call)
    const work = loading.then((fallback) => fallback.changed(describe(call), outcome, call.waitUntil), (error) => failed(call, error))
    call.waitUntil?.(work)
    return outcome
  }

  return {
    name: 'fallback',
    answersRefusals: uses,
    // A write may change its URL: the chunk drops the copies it made stale (RFC 9111 4.4). A safe method costs a test.
    run: (call, next) => (uses(call) ? answer(call, next) : /^(GET|HEAD|OPTIONS|TRACE)$/.test(call.method) ? next(call) : write(call, next)),
    async clear() {
      epoch++
      await (loaded ?? (await loading)).clear()
    },
  }
}

/** What the store sees of a call: a GET of the URL resolved as fetch resolves it, without its fragment (the key). */
function describe(call: Call): FallbackRequest {
  const request = isRequest(call.input) ? call.input : undefined
  // Without the fragment first, so that a URL this cannot resolve (no base here) still drops it.
  let url = call.url.split('#', 1)[0]!
  try {
    url = new URL(url, baseUrl()).href
  } catch {}
  return { url, key: call.key, signal: call.signal, headers: new Headers(call.init?.headers ?? request?.headers), cache: call.init?.cache ?? request?.cache }
}
