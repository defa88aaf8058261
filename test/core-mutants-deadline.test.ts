import { afterEach, describe, expect, it, vi } from 'vitest'
import { follow, keepWith, rekey } from '../src/deadline.js'

afterEach(() => void vi.unstubAllGlobals())

/** A WeakRef whose target a test lets go of by hand (no GC needed); counts reads of its target. */
function fakeWeakRefs() {
  const made: { dead: boolean }[] = []
  const reads = { count: 0 }
  vi.stubGlobal(
    'WeakRef',
    class<T extends object> {
      dead = false
      constructor(readonly target: T) {
        made.push(this)
      }
      deref(): T | undefined {
        reads.count++
        return this.dead ? undefined : this.target
      }
    },
  )
  return { made, reads }
}

const controllers = (n: number) => Array.from({ length: n }, () => new AbortController())

describe('follow', () => {
  it("a caller's abort reaches every live controller, even after one that was collected", () => {
    const { made } = fakeWeakRefs()
    const caller = new AbortController()
    const [gone, live] = controllers(2)
    follow(caller.signal, gone!)
    follow(caller.signal, live!)
    made[0]!.dead = true
    caller.abort('left')
    expect(live!.signal.reason).toBe('left')
  })

  it('a controller no longer followed is not aborted by the caller', () => {
    const caller = new AbortController()
    const [done, running] = controllers(2)
    follow(caller.signal, done!)()
    follow(caller.signal, running!)
    caller.abort('left')
    expect([done!.signal.aborted, running!.signal.aborted]).toEqual([false, true])
  })

  it('the sweep of collected references keeps the live ones: each still aborts with the caller', () => {
    const caller = new AbortController()
    const live = controllers(200)
    for (const controller of live) follow(caller.signal, controller)
    caller.abort('left')
    expect(live.filter((controller) => !controller.signal.aborted)).toEqual([])
  })

  it('a long-lived signal sweeps collected references out once there are 64, and then not again until it holds twice as many', () => {
    const { made, reads } = fakeWeakRefs()
    const caller = new AbortController()
    const kept = controllers(200)
    for (const controller of kept.slice(0, 64)) follow(caller.signal, controller)
    for (const ref of made) ref.dead = true
    // The 65th finds 64 held: the sweep reads each and drops them all.
    follow(caller.signal, kept[64]!)
    expect(reads.count).toBe(64)
    // 64 live ones held again: the sweep reads them all and keeps them, and the next sweep waits for 128.
    for (const controller of kept.slice(65, 129)) follow(caller.signal, controller)
    expect(reads.count).toBe(64 + 64)
    follow(caller.signal, kept[129]!)
    expect(reads.count).toBe(64 + 64)
    reads.count = 0
    caller.abort('left')
    // Only what is still held is read at the abort: the 64 dropped are not.
    expect(reads.count).toBe(66)
    expect(kept.slice(64, 130).every((controller) => controller.signal.aborted)).toBe(true)
  })
})

describe('keepWith and rekey', () => {
  it('a response without a body (204, HEAD) is kept with its controller, and rekeyed, without a throw; so is one never kept', () => {
    const empty = new Response(null, { status: 204 })
    expect(() => keepWith(empty, new AbortController())).not.toThrow()
    expect(() => rekey(empty)).not.toThrow()
    expect(() => rekey(new Response('never kept'))).not.toThrow()
  })
})
