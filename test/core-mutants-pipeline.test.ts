import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { createResilientFetch } from '../src/index.js'

beforeEach(() => void vi.useFakeTimers({ now: 1_000_000 }))
afterEach(() => void vi.useRealTimers())

describe('a gate denial in the pipeline', () => {
  it("a caller that aborts a queued attempt with the reason 'deadline' (a string) gets that reason, no timeout is counted, and the bulkhead keeps working", async () => {
    const held: ((response: Response) => void)[] = []
    const rf = createResilientFetch({ retry: false, bulkhead: { maxConcurrent: 1 }, fetch: () => new Promise<Response>((resolve) => held.push(resolve)) })
    const timeouts: unknown[] = []
    rf.addEventListener('timeout', (event) => timeouts.push(event))
    const first = rf('https://gate.test/a')
    const controller = new AbortController()
    const queued = rf('https://gate.test/b', { signal: controller.signal })
    const settled = queued.then(
      () => 'resolved',
      (error: unknown) => error,
    )
    await vi.advanceTimersByTimeAsync(0)
    controller.abort('deadline')
    expect(await settled).toBe('deadline')
    expect(timeouts).toEqual([])
    expect(rf.snapshot().totals.timeouts).toBe(0)
    held[0]!(new Response('a'))
    expect(await (await first).text()).toBe('a')
    const next = rf('https://gate.test/c')
    await vi.advanceTimersByTimeAsync(0)
    held[1]!(new Response('c'))
    expect(await (await next).text()).toBe('c')
    expect(rf.snapshot().bulkheads).toMatchObject([{ key: 'https://gate.test', active: 0, queued: 0 }])
  })
})
