import { runInDurableObject } from 'cloudflare:test'
import { env } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'
import { BreakerCoordinator, type CoordinatorContext } from '../../src/worker/coordinator.js'
import type { CoordinatorNamespace } from '../../src/worker/index.js'

const BREAKERS = env.BREAKERS as CoordinatorNamespace & { idFromName(name: string): unknown; get(id: unknown): unknown }

describe('BreakerCoordinator in workerd, with a snapshot it cannot read in its storage', () => {
  it('drops it as it starts: the storage of an object written by another version keeps no garbage', async () => {
    const stub = BREAKERS.get(BREAKERS.idFromName('http://fleet-fix-unreadable.test'))
    await runInDurableObject(stub, async (_instance: BreakerCoordinator, state) => {
      const ctx = state as CoordinatorContext
      await ctx.storage.put('breaker', { state: 'open', changedAt: 1, options: { threshold: 2 } })
      // The object restarting (evicted) reads its storage again.
      const restarted = new BreakerCoordinator(ctx)
      await ctx.blockConcurrencyWhile(async () => {})
      expect(await ctx.storage.get('breaker')).toBeUndefined()
      expect(restarted.fleet).toBeUndefined()
    })
  })
})
