/**
 * A hedged call whose losing attempt holds a half-open breaker's probe slot hands that attempt to the call's
 * `waitUntil` and answers without it. A `waitUntil` that throws (its request gone, a wrapper of one's own) must not
 * leave the race half-done: the call still answers, the loser still gives the breaker its verdict, and the error is no
 * unhandled rejection (it ended the Node process). A POST's fallback clean-up handed to such a waitUntil must not fail the POST either.
 */
import { afterEach, expect, it, vi } from 'vitest'
import { createResilientFetch, resilienceInfo } from '../src/index.js'
import { slowProbe } from './slow-probe-server.js'
import type { tailServer } from './tail-server.js'

let server: Awaited<ReturnType<typeof tailServer>> | undefined
afterEach(async () => {
  vi.useRealTimers()
  await server?.close()
  server = undefined
})

it('a waitUntil that throws as the probe that lost is handed to it: the call answers, and the probe still closes the breaker (real server)', async () => {
  // The first probe answers only once the call has its answer; every other request answers at once.
  const probe = await slowProbe(20, (res) => res.writeHead(200).end('slow'))
  server = probe.server
  const { rf, breaker, answerSlow } = probe
  // Its open period passes on the wall clock alone: no wait.
  vi.useFakeTimers({ toFake: ['Date'] })
  breaker.open(100)
  vi.setSystemTime(Date.now() + 200)
  expect(breaker.state).toBe('half-open')
  const handed: Promise<unknown>[] = []
  const waitUntil = (promise: Promise<unknown>) => {
    handed.push(promise)
    throw new Error('this request has ended')
  }
  // Awaited without a bound: the call must answer; only the test's timeout bounds it.
  const settled = await rf(`${server.origin}/item`, { resilience: { waitUntil } }).then(async (response) => [await response.text(), resilienceInfo(response)?.hedged]).then((value) => ({ value }), (error: unknown) => ({ error }))
  expect(settled).toEqual({ value: ['fast', true] })
  expect(handed).toHaveLength(1)
  // The loser was left to finish: its success is the breaker's second.
  expect(breaker.state).toBe('half-open')
  answerSlow()
  await handed[0]
  expect(breaker.state).toBe('closed')
  expect(rf.snapshot().bulkheads.map(({ active, queued }) => [active, queued])).toEqual([[0, 0]])
})

it("a waitUntil that throws as a POST hands it the fallback's clean-up: the POST answers with its response, sent once (real server)", async () => {
  const { tailServer } = await import('./tail-server.js')
  server = await tailServer((_req, res) => res.writeHead(201).end('made'))
  const rf = createResilientFetch({ fallback: { store: 'memory' }, retry: false })
  const handed: Promise<unknown>[] = []
  const waitUntil = (promise: Promise<unknown>) => {
    handed.push(promise)
    throw new Error('this request has ended')
  }
  const settled = await rf(`${server.origin}/items`, { method: 'POST', body: 'x', resilience: { waitUntil } }).then(async (response) => [response.status, await response.text()]).then((value) => ({ value }), (error: unknown) => ({ error }))
  expect(settled).toEqual({ value: [201, 'made'] })
  // The stage's work (the fallback loaded, then its clean-up) and the fallback's own clean-up inside it: each was handed on.
  expect(handed).toHaveLength(2)
  expect(server.seen.map((s) => s.path)).toEqual(['/items'])
})
