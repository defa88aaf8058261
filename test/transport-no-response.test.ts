/**
 * A custom fetch that gives no Response (a wrapper that forgot its `return`, or one rejecting with no reason) is the
 * caller's mistake: the call rejects at once with a TypeError saying so, is not retried, and counts against no breaker.
 * It was taken for a network error: retried, counted as the upstream's failure (five such calls opened the breaker),
 * and the call rejected with `undefined`.
 */
import { describe, expect, it, vi } from 'vitest'
import { createResilientFetch } from '../src/index.js'
import { rejection } from './helpers.js'

const URL_A = 'https://api.example.com/items'

describe.each([
  ['resolves with undefined', async () => undefined, 'fetch gave no Response'],
  ['resolves with null', async () => null, 'fetch gave no Response'],
  ['rejects with no reason', () => Promise.reject(), 'fetch gave no Response'],
])('a custom fetch that %s', (_, give, message) => {
  it.each([false, true])('rejects with a TypeError naming it, once, and no breaker opens (a caller signal: %s)', async (withSignal) => {
    const transport = vi.fn(give)
    const rf = createResilientFetch({ fetch: transport as unknown as typeof fetch, fallback: false })
    const failures: unknown[] = []
    rf.addEventListener('failure', (event) => failures.push(event.detail))
    for (let i = 0; i < 6; i++) {
      const error = await rejection(rf(URL_A, withSignal ? { signal: new AbortController().signal } : undefined))
      expect(error).toBeInstanceOf(TypeError)
      expect((error as Error).message).toBe(message)
    }
    expect(transport).toHaveBeenCalledTimes(6)
    expect(failures).toEqual([])
    expect(rf.breaker('https://api.example.com')!.state).toBe('closed')
  })
})
