import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { follow } from '../src/deadline.js'
import { race, type HedgeRunner } from '../src/stages/hedge.js'
import { createResilientFetch } from '../src/index.js'

beforeEach(() => void vi.useFakeTimers({ now: 1_000_000 }))
afterEach(() => void vi.useRealTimers())

describe('follow with a signal already aborted', () => {
  it('aborts the controller at once with the reason; unfollowing it throws nothing', () => {
    const caller = new AbortController()
    caller.abort('left')
    const controller = new AbortController()
    const unfollow = follow(caller.signal, controller)
    expect(controller.signal.reason).toBe('left')
    expect(() => unfollow()).not.toThrow()
  })

  it('a signal that aborted after an earlier follow still aborts a controller that follows it later', () => {
    const caller = new AbortController()
    follow(caller.signal, new AbortController())
    caller.abort('left')
    const late = new AbortController()
    follow(caller.signal, late)
    expect(late.signal.aborted).toBe(true)
    expect(late.signal.reason).toBe('left')
  })
})

describe('a hedge due after the caller aborted', () => {
  it('race: the hedge attempt starts aborted, with the caller reason', async () => {
    const caller = new AbortController()
    const signals: AbortSignal[] = []
    // Attempt 1 ignores its abort (a transport that never settles): only the hedge can end the race.
    const runner: HedgeRunner<number> = {
      attempt: (_n, { signal }) => (signals.push(signal), signals.length === 1 ? new Promise<number>(() => {}) : Promise.resolve(signal.aborted ? -1 : 200)),
      verdict: (r) => (r === -1 ? 'end' : r >= 500 ? 'lose' : 'win'),
      discard: () => {},
      mayHedge: () => true,
    }
    const won = race(runner, 100, 1, caller.signal)
    caller.abort('left')
    await vi.advanceTimersByTimeAsync(100)
    expect(signals[1]!.reason).toBe('left')
    await expect(won).resolves.toMatchObject({ result: -1, attempt: 2 })
  })

  it('rf: a hedge through a fetch that ignores abort is sent aborted, and the call rejects with the caller reason', async () => {
    const sent: (AbortSignal | undefined)[] = []
    const fetch = vi.fn((_input: RequestInfo | URL, init?: RequestInit) => {
      sent.push(init?.signal ?? undefined)
      if (sent.length === 1) return new Promise<Response>(() => {})
      return init?.signal?.aborted ? Promise.reject(init.signal.reason) : Promise.resolve(new Response('late'))
    })
    const rf = createResilientFetch({ fetch, retry: false, fallback: false, hedge: { delay: 100, budget: false } })
    const caller = new AbortController()
    const call = rf('https://a.test/x', { signal: caller.signal })
    const settled = call.then(
      (r) => ({ status: r.status }),
      (error: unknown) => ({ error }),
    )
    await vi.advanceTimersByTimeAsync(10)
    caller.abort('left')
    await vi.advanceTimersByTimeAsync(100)
    expect(sent.slice(1).every((signal) => signal?.aborted)).toBe(true)
    expect(await settled).toEqual({ error: 'left' })
  })
})
