import { getEventListeners } from 'node:events'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { isRequest, originOf } from '../src/url.js'
import { within } from '../src/within.js'
import { LatencySummary } from '../src/latency.js'
import { createResilientFetch } from '../src/index.js'
import { normalizeBulkhead, type NormalizedBulkhead } from '../src/options.js'
import type { Bulkhead } from '../src/bulkhead.js'
import { bulkheadStage } from '../src/stages/bulkhead.js'
import { testCall, testRuntime } from './stages/helpers.js'

afterEach(() => {
  vi.unstubAllGlobals()
  vi.useRealTimers()
})

/** Counts the URLs the parser reads (originOf's fast path and its last-URL memo skip it). */
function countParses(): { count: number } {
  const seen = { count: 0 }
  const Real = URL
  vi.stubGlobal(
    'URL',
    class extends Real {
      constructor(url: string | URL, base?: string | URL) {
        super(url, base)
        seen.count++
      }
    },
  )
  return seen
}

describe('originOf', () => {
  it('reads an upper-case host through the parser, whatever label it is in', () => {
    expect(originOf('https://api.EXAMPLE.COM/x')).toBe('https://api.example.com')
    expect(originOf('https://a.B/x')).toBe('https://a.b')
  })

  it('reads plain http(s) origins of any number of labels without the parser, with a path or without', () => {
    const parses = countParses()
    expect(originOf('http://plain.example.test/x')).toBe('http://plain.example.test')
    expect(originOf('https://api.b.c.test?q=1')).toBe('https://api.b.c.test')
    expect(originOf('https://x.test')).toBe('https://x.test')
    expect(parses.count).toBe(0)
  })

  it('a run of calls to one URL reads it once, absolute or relative, while the base stays; an absolute one even when the base changes', () => {
    vi.stubGlobal('document', { baseURI: 'https://base-one.test/app/' })
    const parses = countParses()
    expect(originOf('https://memo.test:8443/x')).toBe('https://memo.test:8443')
    expect(originOf('https://memo.test:8443/x')).toBe('https://memo.test:8443')
    vi.stubGlobal('document', { baseURI: 'https://base-two.test/' })
    expect(originOf('https://memo.test:8443/x')).toBe('https://memo.test:8443')
    expect(parses.count).toBe(1)
    expect(originOf('memo/rel')).toBe('https://base-two.test')
    expect(originOf('memo/rel')).toBe('https://base-two.test')
    expect(parses.count).toBe(2)
  })

  it("in a worker (no document) a relative URL is read against the worker's location", () => {
    vi.stubGlobal('document', undefined)
    vi.stubGlobal('location', { href: 'https://worker.test/app/' })
    expect(originOf('/from-worker')).toBe('https://worker.test')
  })
})

describe('isRequest', () => {
  it('is true for a Request of any realm (an object with a string url), false for a string, a URL, null, undefined or a function', () => {
    expect(isRequest(new Request('https://a.test/x'))).toBe(true)
    expect(isRequest({ url: 'https://a.test/x' })).toBe(true)
    expect(isRequest('https://a.test/x')).toBe(false)
    expect(isRequest(new URL('https://a.test/x'))).toBe(false)
    expect(isRequest(null)).toBe(false)
    expect(isRequest(undefined)).toBe(false)
    expect(isRequest(Object.assign(() => {}, { url: 'https://a.test/x' }))).toBe(false)
  })
})

describe('within', () => {
  it('without a bound arms no timer and waits as long as the work does', async () => {
    vi.useFakeTimers()
    let finish!: (value: number) => void
    const bounded = within(new Promise<number>((resolve) => (finish = resolve)), undefined, 'too slow')
    expect(vi.getTimerCount()).toBe(0)
    await vi.advanceTimersByTimeAsync(60_000)
    finish(7)
    await expect(bounded).resolves.toBe(7)
  })

  it('rejects as the work does, before its bound', async () => {
    vi.useFakeTimers()
    const failure = new Error('store failed')
    await expect(within(Promise.reject(failure), 100, 'too slow')).rejects.toBe(failure)
    expect(vi.getTimerCount()).toBe(0)
  })

  it('rejects with the reason of a signal that aborts while it waits, and leaves no listener on a signal once settled', async () => {
    const controller = new AbortController()
    const reason = new Error('caller left')
    const waiting = within(new Promise(() => {}), undefined, 'too slow', controller.signal)
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(1)
    controller.abort(reason)
    await expect(waiting).rejects.toBe(reason)
    const kept = new AbortController()
    await within(Promise.resolve(1), undefined, 'too slow', kept.signal)
    expect(getEventListeners(kept.signal, 'abort')).toHaveLength(0)
  })
})

describe('latency', () => {
  it('percentiles are of the samples in order, not as they arrived', () => {
    const s = new LatencySummary()
    for (const ms of [30, 10, 20]) s.record(ms)
    expect([s.percentile(0), s.percentile(0.5), s.percentile(1)]).toEqual([10, 20, 30])
  })

  it('a response within the same millisecond (0 ms) counts as a sample', async () => {
    vi.useFakeTimers({ now: 1_000_000 })
    const rf = createResilientFetch({ fetch: async () => new Response('ok'), retry: false })
    await (await rf('https://zero.test/x')).text()
    expect(rf.snapshot().latencies).toMatchObject([{ key: 'https://zero.test', samples: 1, count: 1, p50: 0, buckets: [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1] }])
  })
})

describe('bulkhead stage', () => {
  const setup = (options: object | false) => {
    const t = testRuntime(Date.now)
    const stage = bulkheadStage(options && (normalizeBulkhead(options) as NormalizedBulkhead), t.runtime)
    return { ...t, stage }
  }

  it('is not in the chain when off', () => {
    expect(setup(false).stage).toBeUndefined()
  })

  it("a waiter the caller aborts with the reason 'bulkhead' (a string) is no bulkhead refusal: no reject event", async () => {
    const { stage, seen } = setup({ maxConcurrent: 1, maxQueue: 5 })
    const bulkhead = stage!.forKey!('https://a.test') as Bulkhead
    stage!.admit!(bulkhead, { call: testCall(), signal: undefined, start: 0 }, Date.now())
    const controller = new AbortController()
    const waiting = stage!.admit!(bulkhead, { call: testCall(), signal: controller.signal, start: 0 }, Date.now())
    controller.abort('bulkhead')
    expect(await waiting).toEqual({ kind: 'aborted', reason: 'bulkhead' })
    expect(seen).toEqual([])
  })
})
