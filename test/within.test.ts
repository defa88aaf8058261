import { afterEach, describe, expect, it, vi } from 'vitest'
import { within } from '../src/within.js'

afterEach(() => {
  vi.useRealTimers()
})

describe('within', () => {
  it('settles as the work does, or rejects at its bound, leaving no timer', async () => {
    vi.useFakeTimers()
    await expect(within(Promise.resolve(1), 100, 'too slow')).resolves.toBe(1)
    const hung = within(new Promise(() => {}), 100, 'too slow')
    const seen = expect(hung).rejects.toThrow('too slow')
    await vi.advanceTimersByTimeAsync(100)
    await seen
    expect(vi.getTimerCount()).toBe(0)
  })

  it('with a signal aborted already, rejects with its reason and still watches the work: its later rejection is handled', async () => {
    const unhandled: unknown[] = []
    const onUnhandled = (reason: unknown) => unhandled.push(reason)
    process.on('unhandledRejection', onUnhandled)
    try {
      let fail!: (error: Error) => void
      const work = new Promise<never>((_, reject) => (fail = reject))
      const controller = new AbortController()
      const reason = new Error('caller left')
      controller.abort(reason)
      await expect(within(work, 1_000, 'too slow', controller.signal)).rejects.toBe(reason)
      fail(new Error('store failed later'))
      // Unhandled rejections are reported after the microtasks of the turn: wait a macrotask.
      await new Promise((resolve) => setTimeout(resolve, 0))
      expect(unhandled).toEqual([])
    } finally {
      process.off('unhandledRejection', onUnhandled)
    }
  })
})
