import type { NormalizedFallback } from '../options.js'
import type { Fallback, FallbackRequest } from '../fallback.js'
import { lazyFallback } from '../fallback-lazy.js'
import { isRequest } from './transport.js'
import { baseUrl } from '../url.js'
import { aborted, type Call, type Next, type Outcome, type Runtime, type Wrapper } from './types.js'

/** The fallback wrapper, and `clear()` behind `rf.clear()`. */
export interface FallbackWrapper extends Wrapper<undefined> {
  clear(): Promise<void>
}

/**
 * The fallback wrapper (GETs only; `resilience.fallback: false` opts a call out): a good 200 is
 * remembered off the hot path; a call that ends in a failure, a refusal or a timeout is answered by
 * the last good copy when there is one. The storage code loads as its own chunk.
 */
export function fallbackStage(options: NormalizedFallback | false, runtime: Runtime): FallbackWrapper | undefined {
  if (!options) return undefined
  const { events, totals, now } = runtime
  const fallback: Fallback = lazyFallback(options, (type, detail) => events.emit(type, detail), now)
  const uses = (call: Call) => call.method === 'GET' && call.options?.fallback !== false

  function describe(call: Call): FallbackRequest {
    const request = isRequest(call.input) ? call.input : undefined
    return { method: 'GET', url: absolute(call.url), headers: new Headers(call.init?.headers ?? request?.headers), cache: call.init?.cache ?? request?.cache }
  }

  async function answer(call: Call, next: Next): Promise<Outcome> {
    // Noted at the start: a response to a call that started before rf.clear() is never stored.
    const epoch = fallback.epoch()
    const outcome = await next(call)
    if (outcome.kind === 'aborted' || call.signal?.aborted) return outcome
    if (outcome.kind === 'response' && !outcome.failure) {
      if (outcome.response.status === 200) fallback.remember(describe(call), outcome.response, call.waitUntil, { epoch })
      return outcome
    }
    // Bounded by the call's deadline and abort: a hung store never hangs the call.
    const found = await fallback.recall(describe(call), { signal: call.signal, deadline: call.deadline })
    if (found === undefined && !call.signal?.aborted) return outcome
    // The failed response is no longer the answer: the copy is, or the caller's abort.
    if (outcome.kind === 'response') outcome.response.body?.cancel().catch(() => {})
    if (found === undefined || call.signal?.aborted) return aborted(call.signal!.reason)
    totals.fallbacks++
    events.emit('fallback', { key: call.key, age: Math.max(0, Math.floor((now() - found.storedAt) / 1000)) })
    // Still the failure of the call it answers: the call counts as failed (or rejected), served from the copy.
    return { kind: 'response', response: found.response, failure: true, duration: 0, storedAt: found.storedAt }
  }

  return {
    name: 'fallback',
    answersRefusals: uses,
    run: (call, next) => (uses(call) ? answer(call, next) : next(call)),
    clear: () => fallback.clear(),
  }
}

/** The URL resolved as fetch resolves it (against the document's base) and without its fragment: the store's key. */
function absolute(url: string): string {
  try {
    const u = new URL(url, baseUrl())
    u.hash = ''
    return u.href
  } catch {
    return url
  }
}
