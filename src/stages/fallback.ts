import type { NormalizedFallback } from '../options.js'
import type { Fallback, FallbackRequest } from '../fallback.js'
import { lazyFallback } from '../fallback-lazy.js'
import { isRequest } from './transport.js'
import type { Call, Next, Outcome, Runtime, Wrapper } from './types.js'

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
    const headers = call.init?.headers ?? (isRequest(call.input) ? call.input.headers : undefined)
    return { method: 'GET', url: absolute(call.url), headers: new Headers(headers) }
  }

  async function answer(call: Call, next: Next): Promise<Outcome> {
    const outcome = await next(call)
    if (outcome.kind === 'aborted' || call.signal?.aborted) return outcome
    if (outcome.kind === 'response' && !outcome.failure) {
      if (outcome.response.status === 200) fallback.remember(describe(call), outcome.response, call.waitUntil)
      return outcome
    }
    const found = await fallback.recall(describe(call))
    if (found === undefined) return outcome
    if (outcome.kind === 'response') outcome.response.body?.cancel().catch(() => {})
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

/** The URL resolved against the page (in a browser) and without its fragment: the store's key. */
function absolute(url: string): string {
  try {
    const u = new URL(url, (globalThis as { location?: { href: string } }).location?.href)
    u.hash = ''
    return u.href
  } catch {
    return url
  }
}
