import type { ServerResponse } from 'node:http'
import { describe, expect, it } from 'vitest'
import { createResilientFetch, resilienceInfo } from '../src/index.js'
import { tailServerEachTest } from './tail-server.js'

const { start } = tailServerEachTest()

describe('hedging against a real server on 127.0.0.1', () => {
  it('the first request hangs, the hedge answers: the call gets the hedge, the hanging request is closed', async () => {
    const held: ServerResponse[] = []
    const server = await start((_req, res, seen) => {
      if (server.seen.indexOf(seen) === 0) return void held.push(res)
      res.writeHead(200, { 'content-type': 'text/plain' }).end('from the hedge')
    })
    const rf = createResilientFetch({ hedge: { delay: 50 }, retry: false, fallback: false })
    const hedges: unknown[] = []
    rf.addEventListener('hedge', (e) => hedges.push(e.detail))
    const response = await rf(`${server.origin}/item`)
    expect(await response.text()).toBe('from the hedge')
    expect(resilienceInfo(response)).toMatchObject({ source: 'network', hedged: true })
    expect(server.seen).toHaveLength(2)
    expect(await server.seen[0]!.closedEarly).toBe(true)
    expect(await server.seen[1]!.closedEarly).toBe(false)
    expect(hedges).toEqual([{ key: server.origin, attempt: 2, delay: 50 }])
    expect(rf.snapshot()).toMatchObject({ totals: { hedges: 1, successes: 1 }, bulkheads: [{ active: 0, queued: 0 }] })
  })

  it('the first answers after the hedge started: the hedge is closed, the response is not marked hedged', async () => {
    const server = await start((_req, res, seen) => {
      const first = server.seen.indexOf(seen) === 0
      // The first answers at 120 ms; the hedge (started at 50 ms) would take a second.
      setTimeout(() => !res.destroyed && res.writeHead(200).end(first ? 'first' : 'hedge'), first ? 120 : 1_000)
    })
    const rf = createResilientFetch({ hedge: { delay: 50 }, retry: false, fallback: false })
    const response = await rf(`${server.origin}/item`)
    expect(await response.text()).toBe('first')
    expect(resilienceInfo(response)?.hedged).toBeUndefined()
    expect(server.seen).toHaveLength(2)
    expect(await server.seen[1]!.closedEarly).toBe(true)
  })

  it('a healthy fast upstream is never hedged by a percentile delay before 20 samples', async () => {
    const server = await start((_req, res) => void res.writeHead(200).end('ok'))
    const rf = createResilientFetch({ hedge: {}, retry: false, fallback: false })
    for (let i = 0; i < 10; i++) await (await rf(`${server.origin}/item`)).text()
    expect(server.seen).toHaveLength(10)
    expect(rf.snapshot().totals.hedges).toBe(0)
    expect(rf.snapshot().latencies).toMatchObject([{ key: server.origin, samples: 10, count: 10 }])
  })
})
