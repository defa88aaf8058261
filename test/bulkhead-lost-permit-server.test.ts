import type { ServerResponse } from 'node:http'
import { describe, expect, it } from 'vitest'
import { createResilientFetch, TimeoutError } from '../src/index.js'
import { tailServerEachTest } from './tail-server.js'

const { start } = tailServerEachTest()

describe('a lost permit against a real server on 127.0.0.1', () => {
  it('a fetch that ignores the abort never gives its permit back: the queued call is sent once the permit is taken for lost, before its queueTimeout', async () => {
    const held: ServerResponse[] = []
    const server = await start((req, res) => (req.url === '/hung' ? void held.push(res) : res.writeHead(200).end('ok')))
    // A transport that drops the attempt's signal: the attempt deadline cannot end its request, so its release never comes.
    const fetch = (input: RequestInfo | URL, init?: RequestInit) => globalThis.fetch(input, { ...init, signal: null })
    // The permit is lost 1 s past its 300 ms attempt bound; the queue would wait 4 s.
    const rf = createResilientFetch({ fetch, bulkhead: { maxConcurrent: 1, queueTimeout: 4_000 }, timeout: { attempt: 300, total: false }, retry: false, fallback: false, breaker: false })
    const hung = rf(`${server.origin}/hung`).catch((error: unknown) => error)
    await server.received(1)
    const next = await rf(`${server.origin}/next`)
    expect(await next.text()).toBe('ok')
    expect(server.seen.map((s) => s.path)).toEqual(['/hung', '/next'])
    expect(rf.snapshot().bulkheads[0]).toMatchObject({ active: 0, queued: 0, rejected: 0 })
    // Its connection closed, the hung request ends as its attempt deadline had it (its late release does nothing).
    await server.close()
    expect(await hung).toBeInstanceOf(TimeoutError)
    expect(rf.snapshot().bulkheads[0]).toMatchObject({ active: 0, queued: 0 })
  })
})
