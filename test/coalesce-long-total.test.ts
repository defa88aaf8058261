/**
 * A joined caller's guard timer waits until the shared request's `until` (its total deadline past its start). A total
 * near the timer limit (2^31 − 1 ms, the largest the options take) put that wait past what a timer can hold: the host
 * fires such a timer at once, so every joiner left at once and sent its own request.
 */
import { afterEach, beforeEach, expect, it, vi } from 'vitest'
import { createResilientFetch } from '../src/index.js'

beforeEach(() => {
  vi.useFakeTimers()
})
afterEach(() => {
  vi.useRealTimers()
})

it('with a total deadline at the timer limit, identical GETs still share one request', async () => {
  let sent = 0
  const hang = (_: RequestInfo | URL, init?: RequestInit) => {
    sent++
    return new Promise<Response>((_, reject) => init?.signal?.addEventListener('abort', () => reject(init.signal!.reason)))
  }
  const rf = createResilientFetch({ fetch: hang, coalesce: true, fallback: false, retry: false, timeout: { attempt: 10_000, total: 2 ** 31 - 1 } })
  const first = rf('https://a.test/x').catch((e: unknown) => e)
  await vi.advanceTimersByTimeAsync(0)
  const second = rf('https://a.test/x').catch((e: unknown) => e)
  await vi.advanceTimersByTimeAsync(1_000)
  expect(sent).toBe(1)
  await vi.advanceTimersByTimeAsync(9_000)
  expect(await first).toMatchObject({ name: 'TimeoutError', scope: 'attempt', timeout: 10_000 })
  expect(await second).toMatchObject({ name: 'TimeoutError', scope: 'attempt', timeout: 10_000 })
  expect(sent).toBe(1)
  expect(rf.snapshot().totals.coalesced).toBe(1)
})
