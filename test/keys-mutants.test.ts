import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { createResilientFetch } from '../src/index.js'

beforeEach(() => {
  vi.useFakeTimers({ now: 1_780_000_000_000 })
})
afterEach(() => {
  vi.useRealTimers()
})

describe('maxKeys drops the least recently used idle key, not the first one used', () => {
  it('a key used again is the most recently used: a new key beyond maxKeys drops the one idle longest instead', async () => {
    const fetch = vi.fn(async () => new Response('ok'))
    const rf = createResilientFetch({ fetch, retry: false, fallback: false, timeout: false, maxKeys: 2 })
    for (const url of ['https://a.test/', 'https://b.test/', 'https://a.test/again', 'https://c.test/']) await rf(url)
    // a was first used before b, but used again after it: b is the least recently used, and it goes.
    expect(rf.breaker('https://b.test')).toBeUndefined()
    expect(rf.breaker('https://a.test')).toBeDefined()
    expect(rf.breaker('https://c.test')).toBeDefined()
    expect(rf.snapshot().bulkheads.map((x) => x.key)).toEqual(['https://a.test', 'https://c.test'])
  })

  it("a key kept that way keeps its breaker's counters: a failure before the new key still counts toward opening it", async () => {
    const statuses = [500, 200, 200, 200, 500]
    const fetch = vi.fn(async () => new Response('x', { status: statuses.shift() ?? 200 }))
    const rf = createResilientFetch({ fetch, retry: false, fallback: false, timeout: false, maxKeys: 2, breaker: { failureThreshold: 2 } })
    await rf('https://a.test/') // a: one failure (a 30 s window)
    await rf('https://b.test/')
    await rf('https://a.test/') // a: the most recently used key, its breaker closed and idle
    await rf('https://c.test/') // b goes, not a: a keeps its failure
    expect(rf.breaker('https://a.test')?.state).toBe('closed')
    await rf('https://a.test/') // a second failure within the window opens it
    expect(rf.breaker('https://a.test')?.state).toBe('open')
  })
})
