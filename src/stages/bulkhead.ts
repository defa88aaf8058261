import type { NormalizedBulkhead } from '../options.js'
import { Bulkhead } from '../bulkhead.js'
import { BulkheadRejectedError } from '../errors.js'
import { aborted, refusal, type Aborted, type Attempt, type Gate, type Refusal, type Runtime } from './types.js'

/**
 * The bulkhead gate: at most `maxConcurrent` attempts of a key in flight, a queue behind them.
 * A permit is taken at once when one is free; otherwise the attempt waits (bounded by
 * `queueTimeout`, the call's total deadline and its signal). The permit is given back when the
 * attempt's outcome is known: at the response headers, not when the body is read.
 */
export function bulkheadStage(options: NormalizedBulkhead | false, runtime: Runtime): Gate<Bulkhead, true> | undefined {
  if (!options) return undefined
  const { events } = runtime

  async function wait(bulkhead: Bulkhead, { call, signal }: Attempt, t: number): Promise<true | Refusal | Aborted> {
    try {
      await bulkhead.acquire(signal, (call.deadline ?? Infinity) - t, call.timeout.total as number, call.priority)
      return true
    } catch (error) {
      if (error instanceof BulkheadRejectedError) {
        events.emit('reject', { key: bulkhead.key, reason: 'bulkhead' })
        return refusal('bulkhead', error)
      }
      // Left the queue because the call's total deadline passed (the pipeline reports the timeout), or because the attempt was aborted.
      return signal?.aborted && error === signal.reason ? aborted(error) : refusal('deadline', error)
    }
  }

  return {
    name: 'bulkhead',
    forKey: (key) => new Bulkhead(key, options),
    busy: (bulkhead) => bulkhead.active + bulkhead.queued > 0,
    report: (bulkhead, snapshot) => void snapshot.bulkheads.push(bulkhead.snapshot()),
    admit: (bulkhead, attempt, t) => bulkhead.tryAcquire() || wait(bulkhead, attempt, t),
    settle: (bulkhead) => bulkhead.release(),
  }
}
