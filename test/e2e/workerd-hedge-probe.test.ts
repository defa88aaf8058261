/**
 * README "Hedged requests": "except one that holds a half-open breaker's probe slot: it is left to finish ... so a
 * recovered but slow upstream still closes its breaker ... In a Worker, pass resilience: { waitUntil: (p) =>
 * ctx.waitUntil(p) } so it can finish after the response." Held in workerd (Miniflare) against a real node:http
 * upstream on 127.0.0.1: the incoming request is answered by the hedge; the slow probe answers only after that
 * request has ended (the test releases it), and its verdict still reaches the isolate's breaker.
 */
import { createServer, type Server, type ServerResponse } from 'node:http'
import { resolve } from 'node:path'
import type { Miniflare } from 'miniflare'
import { afterAll, afterEach, beforeAll, beforeEach, expect, it } from 'vitest'
import { closeServer, listen } from './harness.js'
import { bundleWorker, type WorkerBundle } from './workerd-harness.js'

const WORKER = `
import { createResilientFetch, resilienceInfo } from ${JSON.stringify(resolve(import.meta.dirname, '../../src/index.ts'))}
const rf = createResilientFetch({
  hedge: { delay: 50, budget: false },
  retry: false,
  fallback: false,
  timeout: { attempt: 60_000, total: 60_000 }, // the test's own timeout: what must come is bounded by it alone
  breaker: { window: 'consecutive', failureThreshold: 1, openDuration: 200, halfOpen: { probes: 2, successesToClose: 2 } },
})
export default {
  async fetch(request, env, ctx) {
    const url = new URL(request.url)
    const target = url.searchParams.get('target')
    if (url.pathname === '/state') return new Response(rf.breaker(new URL(target).origin)?.state ?? 'none')
    const waitUntil = (promise) => ctx.waitUntil(promise)
    const response = await rf(target, { resilience: { waitUntil } })
    return Response.json({ status: response.status, body: await response.text(), hedged: resilienceInfo(response)?.hedged ?? false })
  },
}
`

let worker: WorkerBundle
let upstream: Server
let origin: string
let miniflare: Miniflare
/** The upstream's /item requests, in order: the first (the slow probe) is held until the test answers it. */
let items: ServerResponse[] = []
/** Resolves (true) when the held probe's connection closed before it was answered. */
let probeClosedEarly: Promise<boolean> | undefined

beforeAll(async () => {
  upstream = createServer((req, res) => {
    if (req.url === '/fail') return void res.writeHead(503).end('down')
    items.push(res)
    if (items.length === 1) {
      probeClosedEarly = new Promise((done) => res.on('close', () => done(!res.writableFinished)))
      return
    }
    res.writeHead(200, { 'content-type': 'text/plain' }).end('fast')
  })
  origin = `http://127.0.0.1:${await listen(upstream)}`
  worker = await bundleWorker(WORKER, 'workerd-hedge-probe')
})

// Each test has an isolate of its own: a fresh breaker.
beforeEach(async () => {
  items = []
  probeClosedEarly = undefined
  miniflare = await worker.start()
})

afterEach(async () => {
  for (const res of items) if (!res.writableEnded) res.destroy()
  await miniflare?.dispose()
})

afterAll(async () => {
  await closeServer(upstream)
  await worker?.remove()
})

const ask = (path: string, target: string) => miniflare.dispatchFetch(`http://worker.test${path}?target=${encodeURIComponent(origin + target)}`)
const state = async () => (await ask('/state', '/')).text()

/** Polls `read` until it gives `want`, without a deadline (only the test's timeout bounds it), and returns the last value read. */
async function until(read: () => Promise<string>, want: string): Promise<string> {
  let got = await read()
  while (got !== want) {
    await new Promise((r) => setTimeout(r, 20))
    got = await read()
  }
  return got
}

/** Opens the breaker with a 503, waits it out to half-open, then sends the incoming request the hedge answers. */
async function hedgedProbe() {
  expect(await (await ask('/', '/fail')).json()).toMatchObject({ status: 503 })
  expect(await state()).toBe('open')
  expect(await until(state, 'half-open')).toBe('half-open')
  const answer = await (await ask('/', '/item')).json()
  // The hedge (the second probe) answered the incoming request; that request has ended, the first probe is still out.
  expect(answer).toEqual({ status: 200, body: 'fast', hedged: true })
  expect(items).toHaveLength(2)
  expect(items[0]!.writableEnded).toBe(false)
  // One success of the two needed to close.
  expect(await state()).toBe('half-open')
}

it("the slow probe, left to finish past the incoming request by its waitUntil, answers 200 and closes the isolate's breaker", async () => {
  await hedgedProbe()
  items[0]!.writeHead(200, { 'content-type': 'text/plain' }).end('slow but fine')
  expect(await until(state, 'closed')).toBe('closed')
  expect(await probeClosedEarly).toBe(false)
})

it('the slow probe, left to finish past the incoming request, answers 503 and re-opens the breaker', async () => {
  await hedgedProbe()
  items[0]!.writeHead(503, { 'content-type': 'text/plain' }).end('still down')
  expect(await until(state, 'open')).toBe('open')
  expect(await probeClosedEarly).toBe(false)
})
