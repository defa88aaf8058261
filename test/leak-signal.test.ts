/**
 * A signal made per call keeps nothing alive once its call is over: `AbortSignal.any([pageSignal, ...])` or
 * `AbortSignal.timeout(ms)`. Such a signal is kept alive by its runtime while it has an abort listener and its sources
 * (or its timer) are still live, so a listener of ours left on it kept every one of them, one per call, for the page's
 * life. fetch lets each go once its request is collected; so do we, once the attempt's controller is.
 */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { createResilientFetch } from '../src/index.js'
import { follow } from '../src/deadline.js'
import { collect, gc } from './gc-helpers.js'

let server: Server
let origin: string
beforeAll(async () => {
  server = createServer((_req, res) => res.end('ok'))
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})
afterAll(() => {
  server.closeAllConnections()
  server.close()
})

const CALLS = 100

/** How many of the per-call signals `signalFor` makes are collected after CALLS finished calls and a few GCs. */
async function collectedOf(f: typeof fetch, signalFor: () => AbortSignal): Promise<number> {
  let collected = 0
  const registry = new FinalizationRegistry(() => void collected++)
  for (let i = 0; i < CALLS; i++) {
    const signal = signalFor()
    registry.register(signal, i)
    expect(await (await f(`${origin}/`, { signal })).text()).toBe('ok')
  }
  // A finalizer may drop a listener whose signal is then collected only at the next GC.
  for (let i = 0; i < 3; i++) await collect()
  return collected
}

const page = new AbortController()
const perCall: [string, () => AbortSignal][] = [
  ['AbortSignal.any([pageSignal])', () => AbortSignal.any([page.signal])],
  ['AbortSignal.timeout(60 s)', () => AbortSignal.timeout(60_000)],
]

it.each(perCall)('a signal made per call, %s, is let go once its call is over, as fetch lets it go (real server)', async (_, signalFor) => {
  // fetch's own figure on this machine: the bar we are held to.
  const byFetch = await collectedOf(fetch, signalFor)
  expect(byFetch).toBeGreaterThan(CALLS * 0.9)
  expect(await collectedOf(createResilientFetch({ fallback: false }), signalFor)).toBeGreaterThan(CALLS * 0.9)
}, 60_000) // 200 real requests and fifteen full GCs each: slow on a loaded machine, and no figure here is a time

it("the page's signal still aborts a call in flight and the body of a call answered, after others' controllers were collected", async () => {
  const signal = page.signal
  const first = new AbortController()
  follow(signal, first)
  // Followers that come and go, collected: the signal's listener must stay for those still here.
  for (let i = 0; i < 10; i++) follow(signal, new AbortController())
  await collect()
  const second = new AbortController()
  const unfollow = follow(signal, second)
  unfollow()
  gc()
  const reason = new Error('left the page')
  expect(first.signal.aborted).toBe(false)
  page.abort(reason)
  expect(first.signal.reason).toBe(reason)
  expect(second.signal.aborted).toBe(false)
})
