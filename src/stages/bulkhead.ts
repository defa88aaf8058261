import type { NormalizedBulkhead } from '../options.js'
import { Bulkhead, type Lease } from '../bulkhead.js'
import { now } from '../clock.js'
import { attemptBound } from './total-deadline.js'
import type { Gate, Refusal, Runtime } from './types.js'

/**
 * The bulkhead gate: at most `maxConcurrent` attempts of a key in flight, a queue behind them.
 * A permit is taken at once when one is free; otherwise the attempt waits (bounded by
 * `queueTimeout`, the call's total deadline and its signal). The permit is given back when the
 * attempt's outcome is known: at the response headers, not when the body is read.
 */
export function bulkheadStage(options: NormalizedBulkhead | false, runtime: Runtime): Gate<Bulkhead, Lease> | undefined {
  if (!options) return undefined
  const { events } = runtime
  return {
    name: 'bulkhead',
    forKey: (key) => new Bulkhead(key, options),
    busy: (bulkhead) => (bulkhead.reclaim(now()), bulkhead.active + bulkhead.queued > 0),
    report: (bulkhead, snapshot) => void snapshot.bulkheads.push(bulkhead.snapshot()),
    // A refusal (queue full, queueTimeout) is reported once the wait has ended, not from inside the bulkhead's queue.
    admit(bulkhead, { call, signal }, t) {
      const bound = attemptBound(call, t)
      return (
        bulkhead.tryAcquire(bound, t) ??
        bulkhead.acquire(signal, (call.deadline ?? Infinity) - t, call.timeout.total as number, call.priority, bound).then((permit) => {
          const { kind, reason } = permit as Partial<Refusal>
          if (kind === 'refused' && reason === 'bulkhead') events.emit('reject', { key: bulkhead.key, reason })
          return permit
        })
      )
    },
    settle: (bulkhead, _attempt, lease) => bulkhead.release(lease),
  }
}
