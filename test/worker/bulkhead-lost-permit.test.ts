import { describe, expect, inject, it } from 'vitest'
import { createResilientFetch } from '../../src/index.js'

// A real server on 127.0.0.1, outside workerd (slow-upstream.ts): it answers after ?ms=.
const slow = inject('slowUpstreamUrl')

describe('the bulkhead in workerd against a real upstream', () => {
  it('a queued call gets the permit of a request whose release does not come, once it is taken for lost, before its queueTimeout', async () => {
    // A transport that drops the attempt's signal: the 200 ms attempt deadline cannot end the request, which holds its permit 3 s.
    const fetch = (input: RequestInfo | URL, init?: RequestInit) => globalThis.fetch(input, { ...init, signal: null })
    const rf = createResilientFetch({ fetch, bulkhead: { maxConcurrent: 1, queueTimeout: 2_000 }, timeout: { attempt: 200, total: false }, retry: false, fallback: false, breaker: false })
    const held = rf(`${slow}/?ms=3000`)
    // Queued behind it with its own timer (a waiter without one is killed as hung); the permit is lost 1 s past 200 ms.
    const next = await rf(`${slow}/?ms=0`)
    expect(await next.text()).toBe('slow')
    expect(rf.snapshot().bulkheads[0]).toMatchObject({ active: 0, queued: 0, rejected: 0 })
    // The held request's late answer gives back nothing: its permit was already taken back.
    await (await held).text()
    expect(rf.snapshot().bulkheads[0]).toMatchObject({ active: 0, queued: 0 })
    // No time limit (vitest's 0): the test lasts the upstream's 3 s hold, and the worker project's default 5 s left 2 s
    // for the machine's speed (3.0 s measured beside another CI run). Nothing here can hang: the upstream answers at
    // 3 s, and a queued call that never got its permit would be refused at its queueTimeout.
  }, 0)
})
