import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { Bulkhead, type Lease } from '../src/bulkhead.js'
import { createResilientFetch } from '../src/index.js'
import { NORMAL } from '../src/priority.js'
import { controlledTransport, flush } from './helpers.js'

beforeEach(() => void vi.useFakeTimers({ now: 1_000_000 }))
afterEach(() => void vi.useRealTimers())

describe('the bulkhead where an abort and a release meet', () => {
  it('a permit handed to a waiter whose caller aborts in the same turn reaches the next waiter: none is lost', async () => {
    const c = controlledTransport()
    const rf = createResilientFetch({ fetch: c.fetch, bulkhead: { maxConcurrent: 1 }, retry: false, fallback: false, breaker: false, timeout: false })
    const first = rf('https://a.test/1')
    const controller = new AbortController()
    const aborted = rf('https://a.test/2', { signal: controller.signal }).catch((e: unknown) => e)
    const third = rf('https://a.test/3')
    await flush()
    // The first answer releases its permit to the second call a microtask later; the abort comes right after, same turn.
    c.pending[0]!.respond(200)
    let atAbort: object | undefined
    const abortOnRelease = () => {
      const { active, queued } = rf.snapshot().bulkheads[0]!
      // Not yet released: try again a microtask later.
      if (queued === 2) return queueMicrotask(abortOnRelease)
      atAbort = { active, queued }
      controller.abort('gone')
    }
    queueMicrotask(abortOnRelease)
    await flush(20)
    // The second call held the permit, the third still waited, when the abort came.
    expect(atAbort).toEqual({ active: 1, queued: 1 })
    expect(await aborted).toBe('gone')
    expect(c.pending.map((p) => p.url)).toEqual(['https://a.test/3'])
    c.pending[0]!.respond(200)
    await Promise.all([first, third])
    expect(rf.snapshot().bulkheads[0]).toMatchObject({ active: 0, queued: 0, rejected: 0 })
  })

  it('an abort heard before the release: the permit goes to the next waiter at once', async () => {
    const bulkhead = new Bulkhead('k', { maxConcurrent: 1, maxQueue: 5, queueTimeout: 5_000 })
    const held = bulkhead.tryAcquire(Infinity, Date.now())!
    const controller = new AbortController()
    const left = bulkhead.acquire(controller.signal, Infinity, 0, NORMAL)
    const next = bulkhead.acquire(undefined, Infinity, 0, NORMAL)
    controller.abort('gone')
    bulkhead.release(held)
    expect(await left).toEqual({ kind: 'aborted', reason: 'gone' })
    expect(await next).toHaveProperty('until')
    expect(bulkhead.snapshot()).toMatchObject({ active: 1, queued: 0 })
    // A permit given back twice (either of them) counts once.
    bulkhead.release((await next) as Lease)
    bulkhead.release((await next) as Lease)
    bulkhead.release(held)
    expect(bulkhead.snapshot()).toMatchObject({ active: 0, queued: 0 })
    expect(vi.getTimerCount()).toBe(0)
  })
})
