/** The longest a timer can wait: setTimeout fires at once for anything longer than 2^31−1 ms. */
export const MAX_TIMER_MS = 2_147_483_647

/**
 * How long past its deadline work still out is taken for lost: a Worker's request context that ended (its handler
 * answered first) drops what it left running, the timers that would end it included. A breaker's probe, a bulkhead
 * permit and a coalesced request are each taken back this long after theirs.
 */
export const LOST_AFTER = 1_000

/**
 * Ties our per-attempt AbortControllers to a caller's signal with ONE listener per caller signal and
 * weak references to the controllers: a long-lived signal (a page's, a component's) does not collect a
 * listener per finished call, and no AbortSignal.any (~30 µs in Node 20, missing in older browsers).
 * A controller stays reachable while its attempt runs (the caller of `follow` holds it) and afterwards
 * while the body it produced can be read (`keepWith`), so the caller's abort still reaches the body.
 * WeakRef and FinalizationRegistry are ES2021: every runtime that runs this ES2022 code has them.
 */
/** A caller's signal → the controllers that follow it. */
const followers = new WeakMap<AbortSignal, Set<WeakRef<AbortController>>>()
/** Response or body stream → the controller its reading keeps alive; a controller → the one kept before it for the same Response. */
const kept = new WeakMap<object, AbortController>()
/** A controller collected (its attempt over, its body no longer readable) stops following: its `follow` is undone. */
const collected = new FinalizationRegistry<() => void>((unfollow) => unfollow())

/** The one listener on every followed signal: aborts what follows the signal that aborted. */
function aborted({ target }: Event): void {
  const signal = target as AbortSignal
  const refs = followers.get(signal)!
  for (const ref of refs) ref.deref()?.abort(signal.reason)
  refs.clear()
}

/** Makes `signal` abort `controller` with its reason; returns a function that undoes it. */
export function follow(signal: AbortSignal, controller: AbortController): () => void {
  // Its 'abort' has fired already: no event will come.
  if (signal.aborted) controller.abort(signal.reason)
  let refs = followers.get(signal)
  if (refs === undefined) {
    followers.set(signal, (refs = new Set()))
    signal.addEventListener('abort', aborted)
  }
  const ref = new WeakRef(controller)
  refs.add(ref)
  const unfollow = () => {
    // The last follower gone, so is the listener: a signal made per call (AbortSignal.any, AbortSignal.timeout) is kept
    // alive by its runtime while it has one, for as long as its sources (or its timer) are.
    if (refs.delete(ref) && !refs.size) {
      followers.delete(signal)
      signal.removeEventListener('abort', aborted)
    }
  }
  collected.register(controller, unfollow)
  return unfollow
}

/**
 * Keeps `controller` alive as long as `response`'s body can be read, so a caller abort still aborts it.
 * Keyed on the body stream as well as the Response: a caller that keeps only its reader, a pipe or an
 * iterator drops the Response, but the stream lives as long as anything can read it (that reader, the
 * pipe, a tee branch, the transport still filling it). A second controller for one Response (a coalesced
 * caller's, after the transport's or the hedge winner's) keeps the first alive in turn.
 */
export function keepWith(response: Response, controller: AbortController): void {
  const before = kept.get(response)
  if (before !== undefined) kept.set(controller, before)
  kept.set(response, controller)
  rekey(response)
}

/**
 * Keys `response.body` to what `response` is kept with. Called after `response.clone()`, which puts a tee
 * branch in place of the body: a runtime's native tee (Chromium's) may not keep the stream keyed before
 * reachable from that branch, and the caller may keep only the branch's reader.
 */
export function rekey(response: Response): void {
  const controller = kept.get(response)
  if (controller !== undefined && response.body !== null) kept.set(response.body, controller)
}
