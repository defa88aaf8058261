/**
 * The bulkhead in workerd across incoming requests: one resilient fetch per isolate, so a key's permits are shared by
 * every request. workerd drops what a request left running when it ends (its handler answered first, or its client
 * went): the attempt, its deadline's timer and the release of its permit. Such a permit is taken back a second past
 * its attempt's deadline, or the bulkhead would stay full for good.
 */
import { createServer, type Server, type ServerResponse } from 'node:http'
import { resolve } from 'node:path'
import type { Miniflare } from 'miniflare'
import { afterAll, afterEach, beforeAll, beforeEach, expect, it } from 'vitest'
import { closeServer, listen } from './harness.js'
import { bundleWorker, type WorkerBundle } from './workerd-harness.js'

const WORKER = `
import { createResilientFetch } from ${JSON.stringify(resolve(import.meta.dirname, '../../src/index.ts'))}
const rf = createResilientFetch({ retry: false, fallback: false, timeout: { attempt: 500, total: 1_000 }, bulkhead: { maxConcurrent: 2, maxQueue: 0 } })
// One permit and a queue: a request waits for another request's permit.
const queued = createResilientFetch({ retry: false, fallback: false, timeout: { attempt: 2_000, total: 3_000 }, bulkhead: { maxConcurrent: 1, maxQueue: 5, queueTimeout: 2_000 } })
export default {
  async fetch(request) {
    const url = new URL(request.url)
    if (url.pathname === '/active') return new Response(String(rf.snapshot().bulkheads[0]?.active ?? 0))
    if (url.pathname === '/waiting') return new Response(String(queued.snapshot().bulkheads[0]?.queued ?? 0))
    const call = (url.pathname === '/queued' ? queued : rf)(url.searchParams.get('target'))
    // 'early' answers while the call is out (fire and forget): this request ends, and workerd drops the call.
    if (url.searchParams.get('mode') === 'early') return call.catch(() => {}), new Response('early')
    try {
      const response = await call
      return new Response(response.status + ' ' + (await response.text()))
    } catch (error) {
      return new Response(error.name)
    }
  },
}
`

let worker: WorkerBundle
let upstream: Server
let origin: string
let miniflare: Miniflare
/** The request to /slow, held until the test answers it. */
let slow: ServerResponse | undefined
/** Requests to /hang, never answered (closed at the end). */
const hanging: ServerResponse[] = []

beforeAll(async () => {
  upstream = createServer((req, res) => {
    if (req.url === '/hang') return void hanging.push(res)
    // Answered when the test says so: another request queues behind it meanwhile.
    if (req.url === '/slow') return void (slow = res)
    res.end('fast')
  })
  origin = `http://127.0.0.1:${await listen(upstream)}`
  worker = await bundleWorker(WORKER, 'workerd-bulkhead')
})

// Each test has an isolate of its own: a fresh bulkhead.
beforeEach(async () => {
  miniflare = await worker.start()
})

afterEach(async () => {
  await miniflare.dispose()
})

afterAll(async () => {
  for (const res of hanging) res.destroy()
  await closeServer(upstream)
  await worker?.remove()
})

const url = (mode: string, path: string) => `http://worker.test/?mode=${mode}&target=${encodeURIComponent(origin + path)}`
const active = async () => Number(await (await miniflare.dispatchFetch('http://worker.test/active')).text())

/** Polls (at most 5 s) until the bulkhead has taken its lost permits back. */
async function untilFree(): Promise<number> {
  for (let i = 0; i < 100 && (await active()) > 0; i++) await new Promise((r) => setTimeout(r, 50))
  return active()
}

it("permits of requests that ended with their call out are taken back: the key's bulkhead is not full for good", async () => {
  // A handler that answers before its call ends, twice: both permits are out, their requests gone.
  expect(await (await miniflare.dispatchFetch(url('early', '/hang'))).text()).toBe('early')
  expect(await (await miniflare.dispatchFetch(url('early', '/hang'))).text()).toBe('early')
  expect(await (await miniflare.dispatchFetch(url('read', '/fast'))).text()).toBe('BulkheadRejectedError')
  // Before, they stayed out: every call after was refused (BulkheadRejectedError), for good.
  expect(await untilFree()).toBe(0)
  expect(await (await miniflare.dispatchFetch(url('read', '/fast'))).text()).toBe('200 fast')
})

it('the permits of requests whose client went while their call was out come back', async () => {
  // workerd ends such a call with an error, so its permit comes back at once (this passed before too): a guard.
  for (let i = 0; i < 2; i++) {
    const controller = new AbortController()
    const answer = miniflare.dispatchFetch(url('read', '/hang'), { signal: controller.signal }).catch((error: Error) => error.name)
    const before = hanging.length
    for (let j = 0; j < 100 && hanging.length === before; j++) await new Promise((r) => setTimeout(r, 10))
    controller.abort()
    expect(await answer).toBe('AbortError')
  }
  expect(await untilFree()).toBe(0)
  expect(await (await miniflare.dispatchFetch(url('read', '/fast'))).text()).toBe('200 fast')
})

it("a request queued for a permit gets it when another request's call ends, in that other request", async () => {
  const first = miniflare.dispatchFetch(`http://worker.test/queued?target=${encodeURIComponent(origin + '/slow')}`)
  for (let i = 0; i < 100 && slow === undefined; i++) await new Promise((r) => setTimeout(r, 10))
  // Queued behind it: the permit it waits for is released in the first request's context.
  const second = miniflare.dispatchFetch(`http://worker.test/queued?target=${encodeURIComponent(origin + '/fast')}`)
  const waiting = async () => Number(await (await miniflare.dispatchFetch('http://worker.test/waiting')).text())
  for (let i = 0; i < 100 && (await waiting()) === 0; i++) await new Promise((r) => setTimeout(r, 10))
  expect(await waiting()).toBe(1)
  slow!.end('slow')
  expect(await Promise.all([first, second].map(async (answer) => (await answer).text()))).toEqual(['200 slow', '200 fast'])
})
