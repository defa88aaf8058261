import { getEventListeners } from 'node:events'
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

  it('many live followers of one signal each abort with the caller', () => {
    const caller = new AbortController()
    const live = controllers(200)
    for (const controller of live) follow(caller.signal, controller)
    caller.abort('left')
    expect(live.filter((controller) => !controller.signal.aborted)).toEqual([])
  })

  it('the last follower undone, the signal holds no listener of ours; one that follows after that gets it back and is aborted', () => {
    const caller = new AbortController()
    const [a, b, c] = controllers(3)
    const undoA = follow(caller.signal, a!)
    const undoB = follow(caller.signal, b!)
    const listeners = () => getEventListeners(caller.signal, 'abort').length
    undoA()
    expect(listeners()).toBe(1)
    undoB()
    undoB()
    expect(listeners()).toBe(0)
    follow(caller.signal, c!)
    expect(listeners()).toBe(1)
    caller.abort('left')
    expect([a!.signal.aborted, b!.signal.aborted, c!.signal.reason]).toEqual([false, false, 'left'])
  })

  it('an unfollow run again once the signal is followed anew (by hand, then by the finalizer) leaves the new follower and its listener', () => {
    const caller = new AbortController()
    const [a, c] = controllers(2)
    const undoA = follow(caller.signal, a!)
    undoA()
    follow(caller.signal, c!)
    undoA()
    expect(getEventListeners(caller.signal, 'abort')).toHaveLength(1)
    caller.abort('left')
    expect([a!.signal.aborted, c!.signal.reason]).toEqual([false, 'left'])
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
