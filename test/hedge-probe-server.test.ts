import { afterEach, describe, expect, it } from 'vitest'
import { resilienceInfo } from '../src/index.js'
import { slowProbe } from './slow-probe-server.js'
import type { tailServer } from './tail-server.js'

let server: Awaited<ReturnType<typeof tailServer>> | undefined
afterEach(async () => {
  await server?.close()
  server = undefined
})

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Polls `read` every 10 ms until it returns `want` or `ms` pass; returns the last value read. */
async function until<T>(read: () => T, want: T, ms = 3_000): Promise<T> {
  for (const end = Date.now() + ms; read() !== want && Date.now() < end; ) await sleep(10)
  return read()
}

/**
 * A recovered but slow upstream on 127.0.0.1 behind a half-open breaker (two probes, two successes
 * to close), hedged after 50 ms: the first request after the warm-up (the first probe) answers
 * `status` once the call has its answer (the test lets it) and then holds its body open; every other request answers 200 at once.
 */
async function setup(status: number) {
  const probe = await slowProbe(50, (res) => res.writeHead(status).write('slow, and never ends'))
  server = probe.server
  const { rf, breaker, answerSlow } = probe
  breaker.open(100)
  await sleep(150)
  expect(breaker.state).toBe('half-open')
  const response = await rf(`${server.origin}/item`)
  // The fast probe (the hedge) won, and the call did not wait for the slow one, which has not answered yet.
  expect(await response.text()).toBe('fast')
  expect(resilienceInfo(response)).toMatchObject({ hedged: true })
  expect(server.seen).toHaveLength(3)
  // One probe's success of the two needed: the slow probe is still out, not aborted.
  expect(breaker.state).toBe('half-open')
  answerSlow()
  return { rf, breaker, slow: server.seen[1]! }
}

describe('hedging against a slow but recovered upstream on 127.0.0.1: the probe that lost the race still gives its verdict', () => {
  it("the slow probe's 200 closes the breaker; its body is cancelled; the key holds nothing after", async () => {
    const { rf, breaker, slow } = await setup(200)
    expect(await until(() => breaker.state, 'closed')).toBe('closed')
    // Answered after the call had its answer: its body was not read, but cancelled (the connection closed before the end).
    expect(await slow.closedEarly).toBe(true)
    expect(rf.snapshot()).toMatchObject({ totals: { hedges: 1 }, bulkheads: [{ active: 0, queued: 0 }] })
  })

  it("the slow probe's 503 re-opens the breaker", async () => {
    const { breaker } = await setup(503)
    expect(await until(() => breaker.state, 'open')).toBe('open')
  })
})
