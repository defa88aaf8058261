/**
 * The keys one isolate follows (FleetShare's entry() in src/worker/share.ts), where test/fleet-keys-bound.test.ts left
 * them open (found by mutation testing): a key's entry lasts from one call to the next (one message on its way per key,
 * the rest behind it); below 1 000 keys none is forgotten; at 1 000 a new key makes room by forgetting the least recently
 * used idle key, never one whose message is on its way nor one holding a probe permit.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import type { SharedBreakerState } from '../src/index.js'
import type { CoordinatorMessage } from '../src/worker/protocol.js'
import { durableObjectShare, type CoordinatorNamespace } from '../src/worker/share.js'

const MAX_KEYS = 1_000
const T0 = 1_000_000
const PERMIT = 7
/** The fleet's view every answer carries: open, so initial() shows whether the isolate still follows the key. */
const OPEN: SharedBreakerState = { state: 'open', at: T0, openedAt: T0, openUntil: T0 + 60_000 }

beforeEach(() => {
  vi.useFakeTimers({ now: T0 })
})
afterEach(() => {
  vi.useRealTimers()
})

/** Objects that answer at once with OPEN (and a permit to a probe's request), except `silent` keys', which never answer; the messages each key's object got. */
function objects(...silent: string[]) {
  const sent = new Map<string, CoordinatorMessage[]>()
  const namespace: CoordinatorNamespace = {
    idFromName: (name) => name,
    get: ((key: string) => ({
      fetch: (_input: string, init?: RequestInit) => {
        const message = JSON.parse(init!.body as string) as CoordinatorMessage
        sent.set(key, [...(sent.get(key) ?? []), message])
        if (silent.includes(key)) return new Promise<Response>(() => {})
        return Promise.resolve(Response.json({ view: OPEN, ...(message.acquire === undefined ? {} : { grant: { granted: true, permit: PERMIT } }) }))
      },
    })) as never,
  }
  return { sent: (key: string) => sent.get(key) ?? [], share: durableObjectShare(namespace, { minReporters: 1 }) }
}

const key = (i: number) => `https://k${i}.test`

/** Records an outcome on each of `keys` in turn and lets their answers come. */
async function follow(share: ReturnType<typeof objects>['share'], keys: string[]) {
  for (const k of keys) share.record(k, false, false)
  await vi.advanceTimersByTimeAsync(0)
}

describe("durableObjectShare's keys", () => {
  it("a key's entry lasts from one call to the next: a failure while its message is on its way waits behind it", async () => {
    const { sent, share } = objects(key(0))
    share.record(key(0), true, false)
    share.record(key(0), true, false)
    await vi.advanceTimersByTimeAsync(0)
    expect(sent(key(0))).toHaveLength(1)
  })

  it('below 1 000 keys, a new key forgets none', async () => {
    const { share } = objects()
    await follow(share, [key(0)])
    // key(0) idle (answered) as key(1) comes.
    await follow(share, [key(1)])
    expect([share.initial(key(0)), share.initial(key(1))]).toEqual([OPEN, OPEN])
  })

  it('at 1 000 keys, a new key forgets the least recently used one, only that one', async () => {
    const { share } = objects()
    await follow(share, Array.from({ length: MAX_KEYS }, (_, i) => key(i)))
    await follow(share, [key(MAX_KEYS)])
    expect([share.initial(key(0)), share.initial(key(1)), share.initial(key(MAX_KEYS))]).toEqual([undefined, OPEN, OPEN])
  })

  it("a key holding a probe permit is not forgotten: the probe's end reaches its object", async () => {
    const { sent, share } = objects()
    expect(await share.acquireProbe(key(0), 1_000)).toBe(true)
    // The other keys idle (answered), then one more: room is made among them.
    await follow(share, Array.from({ length: MAX_KEYS - 1 }, (_, i) => key(i + 1)))
    await follow(share, [key(MAX_KEYS)])
    expect(share.initial(key(1))).toBeUndefined()
    share.releaseProbe(key(0))
    share.record(key(0), false, false)
    await vi.advanceTimersByTimeAsync(0)
    expect(sent(key(0)).map((message) => message.ends)).toEqual([undefined, [[PERMIT, false]]])
  })

  it('a key whose message is on its way is not forgotten: its next failure still waits behind that message', async () => {
    const { sent, share } = objects(key(0))
    share.record(key(0), true, false)
    // The other keys idle (answered), then one more: room is made among them.
    await follow(share, Array.from({ length: MAX_KEYS - 1 }, (_, i) => key(i + 1)))
    await follow(share, [key(MAX_KEYS)])
    expect(share.initial(key(1))).toBeUndefined()
    share.record(key(0), true, false)
    await vi.advanceTimersByTimeAsync(0)
    expect(sent(key(0))).toHaveLength(1)
  })
})
