/**
 * The share's probe lease, as the breaker stage asks for it. Its own chunk: an instance with a share that
 * leases probes (`acquireProbe`) loads it when it is created, unless a share entry (shareAcrossTabs,
 * durableObjectShare) has installed it already; an instance without such a share never loads it.
 */
import type { BreakerShare } from '../types.js'
import type { Breaker } from './breaker.js'
import { within } from '../within.js'
import { pastTotal } from '../stages/total-deadline.js'
// Through the core's one module for lazy chunks (src/core.ts says why): this chunk then shares the core's one chunk.
import { aborted } from '../core.js'
import type { Aborted, Attempt, Refusal } from '../stages/types.js'
import { probe, tell, useLease, type Ticket } from '../stages/breaker.js'

/** What `within` rejects with when the call's total deadline passes first (a share's own failure lets the probe through). */
const LATE = 'total deadline'

/** Asks `share` for the probe of a half-open breaker that admitted `attempt` with `token`; `refuse` is the stage's refusal of an open breaker. */
export type Lease = (share: BreakerShare, refuse: (breaker: Breaker, t: number) => Refusal, breaker: Breaker, token: number, attempt: Attempt, t: number) => Promise<Ticket | Refusal | Aborted>

/**
 * One probe for all participants of the share, not one each; a share that fails lets it through. The
 * wait ends at the attempt's abort or the call's total deadline (the pipeline reports the timeout): a
 * share that never answers holds no call. A permit that comes after is given back.
 */
const leaseProbe: Lease = async (share, refuse, breaker, token, { call, signal }, t) => {
  const { attempt: attemptTimeout } = call.timeout
  const release = () => tell(() => share.releaseProbe?.(breaker.key))
  let granted: boolean | Refusal | Aborted = true
  let late = false
  try {
    const asked = share.acquireProbe!(breaker.key, attemptTimeout === false ? 30_000 : attemptTimeout, call.waitUntil)
    // Once we gave up, whatever the share answers is given back: a permit, or (a failure) the probe it records as let through.
    const giveBack = () => late && release()
    asked.then((got) => got && giveBack(), giveBack)
    granted = await within(asked, call.deadline === undefined ? undefined : call.deadline - t, LATE, signal)
  } catch (error) {
    if (signal?.aborted) granted = aborted(signal.reason)
    else if ((error as Error | undefined)?.message === LATE) granted = pastTotal(call)
    // A share that failed in time lets the probe through, released when it ends: only a wait we gave up is late.
    late = granted !== true
  }
  // The probe's ticket tells the share when it ends, and gives the stage back its token.
  if (granted === true) return probe(breaker, signal, { token, lease: true, end: () => (release(), token) })
  breaker.release(token)
  return granted === false ? refuse(breaker, t) : granted
}

/** Gives the breaker stage the probe lease: every instance's half-open probe then asks its share at once. */
export function installLease(): void {
  useLease(leaseProbe)
}
