/**
 * A BreakerCoordinator that finds a snapshot it cannot read in its storage (corrupt, or written by another version)
 * drops it as it starts: storage keeps no garbage until some later write happens to replace it.
 */
import { describe, expect, it } from 'vitest'
import { BreakerCoordinator } from '../src/worker/coordinator.js'
import { FleetBreaker } from '../src/worker/fleet.js'
import type { CoordinatorAnswer, FleetOptions } from '../src/worker/protocol.js'
import { memoryState } from './coordinator-fakes.js'
import { flush } from './helpers.js'

const OPTIONS: FleetOptions = { failureThreshold: 2, window: 10_000, openDuration: 60_000, probes: 1, successesToClose: 1, minReporters: 1 }

/** What an open breaker writes, as an object of this version would. */
function openSnapshot() {
  const b = new FleetBreaker(OPTIONS, 0)
  b.report(Date.now(), 2, 'a')
  return b.snapshot()
}

const post = async (o: BreakerCoordinator, body: unknown) =>
  (await (await o.fetch(new Request('https://c/sync', { method: 'POST', body: JSON.stringify(body) }))).json()) as CoordinatorAnswer

describe('BreakerCoordinator with an unreadable snapshot in storage', () => {
  const unreadable: [string, unknown][] = [
    ['options another version wrote', { ...openSnapshot(), options: { threshold: 2, window: 10_000 } }],
    ['options out of range', { ...openSnapshot(), options: { ...OPTIONS, probes: 0 } }],
    ['a corrupt body (no permits)', { ...openSnapshot(), permits: null }],
    ['not a snapshot at all', 'garbage'],
  ]
  for (const [what, snapshot] of unreadable) {
    it(`drops it as it starts, and starts afresh: ${what}`, async () => {
      const state = memoryState()
      state.data.set('breaker', snapshot)
      const object = new BreakerCoordinator(state.ctx)
      await flush()
      expect([state.data.has('breaker'), state.writes]).toEqual([false, ['delete breaker']])
      // A message that leaves the breaker idle writes nothing, and finds a fresh closed breaker.
      expect((await post(object, { options: OPTIONS, reporter: 'a', failures: 0 })).view).toEqual({ state: 'closed', at: 0 })
      expect([state.data.size, state.writes]).toEqual([0, ['delete breaker']])
    })
  }

  it('a readable one is kept and resumed', async () => {
    const state = memoryState()
    const snapshot = openSnapshot()
    state.data.set('breaker', snapshot)
    const object = new BreakerCoordinator(state.ctx)
    await flush()
    expect((await post(object, { options: OPTIONS, reporter: 'a' })).view.state).toBe('open')
    // Only the alarm is written (this test stored no alarm with it).
    expect([state.data.get('breaker'), state.writes]).toEqual([snapshot, [`setAlarm ${snapshot.openUntil}`]])
  })
})
