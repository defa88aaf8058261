/**
 * The keys one isolate follows are bounded (1 000): the least recently used idle one makes room for a new key. When
 * every other key is busy (a message on its way, a probe out), the new key's entry is kept all the same.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import type { CoordinatorMessage } from '../src/worker/protocol.js'
import { durableObjectShare, type CoordinatorNamespace } from '../src/worker/share.js'

const MAX_KEYS = 1_000
const NEW = 'https://new.test'
const PERMIT = 7

beforeEach(() => {
  vi.useFakeTimers({ now: 1_000_000 })
})
afterEach(() => {
  vi.useRealTimers()
})

describe('durableObjectShare with every other key busy', () => {
  it("a new key's probe permit is still its own: the probe's end reaches the object", async () => {
    const sent: CoordinatorMessage[] = []
    // The 1 000 keys' objects never answer (their messages stay on their way); the new key's grants a permit.
    const namespace: CoordinatorNamespace = {
      idFromName: (name) => name,
      get: ((key: string) => ({
        fetch: (_input: string, init?: RequestInit) => {
          if (key !== NEW) return new Promise<Response>(() => {})
          sent.push(JSON.parse(init!.body as string) as CoordinatorMessage)
          return Promise.resolve(Response.json({ view: { state: 'half-open', at: 1, openedAt: 1 }, grant: { granted: true, permit: PERMIT } }))
        },
      })) as never,
    }
    const share = durableObjectShare(namespace, { minReporters: 1 })
    for (let i = 0; i < MAX_KEYS; i++) share.record(`https://busy-${i}.test`, true, false)
    expect(await share.acquireProbe(NEW, 1_000)).toBe(true)
    share.releaseProbe(NEW)
    share.record(NEW, false, false)
    await vi.advanceTimersByTimeAsync(0)
    expect(sent.map((message) => message.ends)).toEqual([undefined, [[PERMIT, false]]])
  })
})
