/**
 * API.md's priority rule: when the bulkhead queue is full, an arrival takes the place of a waiter of lower priority only.
 * A high caller that coalesced onto a low leader shared the leader's queued call, and was evicted with it as low.
 */
import { describe, expect, it, vi } from 'vitest'
import { createResilientFetch } from '../src/index.js'
import { resilienceInfo } from '../src/info.js'

describe('a high-priority caller and a low-priority leader of the same GET', () => {
  it('do not coalesce: the high one keeps its place in a full queue, the low one is evicted', async () => {
    const answers: (() => void)[] = []
    const fetch = vi.fn(
      (input: RequestInfo | URL) =>
        new Promise<Response>((resolve) => answers.push(() => resolve(new Response(`ok ${new URL(String(input)).pathname}`)))),
    )
    const rf = createResilientFetch({ fetch, coalesce: true, retry: false, fallback: false, breaker: false, bulkhead: { maxConcurrent: 1, maxQueue: 1 } })
    const settled = (p: Promise<Response>) => p.then((r) => r.text().then((text) => ({ text, coalesced: resilienceInfo(r)?.coalesced === true })), (e: Error) => e.name)
    const busy = settled(rf('https://api.test/busy'))
    const low = settled(rf('https://api.test/me', { resilience: { priority: 'low' } }))
    const high = settled(rf('https://api.test/me', { resilience: { priority: 'high' } }))
    const normal = settled(rf('https://api.test/other'))
    // Let every call reach the bulkhead, then answer each request as it is sent.
    for (let i = 0; i < 10; i++) {
      await new Promise((resolve) => setTimeout(resolve, 1))
      answers.shift()?.()
    }
    expect(await low).toBe('BulkheadRejectedError')
    expect(await high).toEqual({ text: 'ok /me', coalesced: false })
    expect(await normal).toBe('BulkheadRejectedError')
    expect(await busy).toEqual({ text: 'ok /busy', coalesced: false })
    expect(rf.snapshot().totals.coalesced).toBe(0)
  })
})
