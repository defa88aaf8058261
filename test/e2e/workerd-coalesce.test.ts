/**
 * Coalescing in workerd across incoming requests: a Worker keeps one resilient fetch per isolate, so an
 * identical GET of one incoming request may join another's. workerd cancels a request whose code waits on
 * nothing of its own ("hung"): the joined caller must keep a timer of its own while it waits. And a request's
 * I/O objects are its own: a joined request cannot read the body the first request's fetch opened, so it gets
 * the bytes, read where they arrived, and builds its own Response.
 */
import { createServer, type ServerResponse, type Server } from 'node:http'
import { resolve } from 'node:path'
import type { Miniflare } from 'miniflare'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { closeServer, listen } from './harness.js'
import { bundleWorker, type WorkerBundle } from './workerd-harness.js'

const WORKER = `
import { createResilientFetch, resilienceInfo } from ${JSON.stringify(resolve(import.meta.dirname, '../../src/index.ts'))}
const rf = createResilientFetch({ coalesce: true, fallback: false, retry: false })
const short = createResilientFetch({ coalesce: true, fallback: false, retry: false, timeout: { attempt: 1_000, total: 1_000 } })
export default {
  async fetch(request, env, ctx) {
    const url = new URL(request.url)
    if (url.pathname === '/coalesced') return new Response(String(rf.snapshot().totals.coalesced + short.snapshot().totals.coalesced))
    const mode = url.searchParams.get('mode')
    const waitUntil = url.searchParams.has('keep') ? (promise) => ctx.waitUntil(promise) : undefined
    const call = (url.searchParams.has('short') ? short : rf)(url.searchParams.get('target'), { resilience: { waitUntil } })
    // 'early' answers while the call is out (fire and forget): workerd drops the call with this request.
    if (mode === 'early') return call.catch(() => {}), new Response('early')
    let response
    try {
      response = await call
    } catch (error) {
      return Response.json({ error: error.name })
    }
    // 'drop' answers before reading the body: that request ends while the body still comes.
    if (mode === 'drop') return new Response('status ' + response.status)
    if (mode === 'pass') return response
    const body = await response.text()
    return Response.json({ status: response.status, type: response.headers.get('content-type'), length: body.length, end: body.slice(-8), coalesced: resilienceInfo(response)?.coalesced ?? false })
  },
}
`

let worker: WorkerBundle
let upstream: Server
let origin: string
let miniflare: Miniflare
/** The upstream's requests by path, each with its response (the test answers it). */
const seen = new Map<string, ServerResponse[]>()

beforeAll(async () => {
  upstream = createServer((req, res) => {
    const list = seen.get(req.url!) ?? []
    seen.set(req.url!, [...list, res])
  })
  origin = `http://127.0.0.1:${await listen(upstream)}`
  worker = await bundleWorker(WORKER, 'workerd-coalesce')
  miniflare = await worker.start()
})

afterAll(async () => {
  await miniflare?.dispose()
  for (const list of seen.values()) for (const res of list) res.destroy()
  await closeServer(upstream)
  await worker?.remove()
})

async function until(condition: () => boolean | Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (await condition()) return
    await new Promise((r) => setTimeout(r, 10))
  }
  throw new Error(`gave up waiting until ${what}`)
}

const requestsTo = (path: string) => seen.get(path)?.length ?? 0
const coalesced = async () => Number(await (await miniflare.dispatchFetch('http://worker.test/coalesced')).text())
/** An incoming request for the upstream's `path`; `mode` is 'read', 'drop' or 'pass', and '&keep' adds the request's waitUntil. */
const call = (path: string, mode = 'read') => miniflare.dispatchFetch(`http://worker.test/?mode=${mode}&target=${encodeURIComponent(origin + path)}`)

/**
 * Two incoming requests for `path`: the first (`mode`) reaches the upstream, the second (reading its body) joins it
 * before the headers; then the upstream sends the headers and `head`, and the rest of the body once `beforeEnd` is done.
 */
async function coalescedPair(path: string, mode: string, head: string, tail: string, beforeEnd: (first: ReturnType<Miniflare['dispatchFetch']>) => Promise<void>) {
  const before = await coalesced()
  const first = call(path, mode)
  await until(() => requestsTo(path) === 1, 'the first request reached the upstream')
  const second = call(path)
  await until(async () => (await coalesced()) === before + 1, 'the second request joined the first')
  const res = seen.get(path)![0]!
  res.writeHead(200, { 'content-type': 'text/plain' })
  res.write(head)
  await beforeEnd(first)
  res.end(tail)
  // A joined request that had to send its own gets the whole body at once.
  let answered = false
  const own = until(() => answered || requestsTo(path) === 2, 'a second request or the answer').then(() => seen.get(path)?.[1]?.writeHead(200, { 'content-type': 'text/plain' }).end(head + tail))
  const answer = (await (await second).json()) as { status: number; length: number; end: string; coalesced: boolean; type: string }
  answered = true
  await own
  await first
  return answer
}

it('an identical GET of another incoming request joins the first one and is answered, not cancelled as hung', async () => {
  // A quarter of a MiB: the bytes are whole when the first request's own read ends (and its request with it).
  const answer = await coalescedPair('/both-read', 'read', 'x'.repeat(256 * 1024), 'the end.', async () => {})
  expect(answer).toEqual({ status: 200, type: 'text/plain', length: 256 * 1024 + 8, end: 'the end.', coalesced: true })
  expect(requestsTo('/both-read')).toBe(1)
})

it('a joined request gets the whole body though the first request ended before its body did: it sends its own', async () => {
  // Before, its read failed: "Cannot perform I/O on behalf of a different request" (the body was the first request's).
  let firstAnswer = ''
  const answer = await coalescedPair('/first-drops', 'drop', 'x'.repeat(1000), 'the end.', async (first) => {
    firstAnswer = await (await first).text()
  })
  expect(firstAnswer).toBe('status 200')
  expect(answer).toMatchObject({ status: 200, type: 'text/plain', length: 1008, end: 'the end.' })
  // Its own request, unless the first request lasted until the body's end.
  expect(requestsTo('/first-drops')).toBe(answer.coalesced ? 1 : 2)
})

it("with the first request's waitUntil, the body is read for the joined request though that request answered first", async () => {
  const answer = await coalescedPair('/first-keeps', 'drop&keep', 'x'.repeat(1000), 'the end.', async (first) => {
    expect(await (await first).text()).toBe('status 200')
  })
  expect(answer).toEqual({ status: 200, type: 'text/plain', length: 1008, end: 'the end.', coalesced: true })
  expect(requestsTo('/first-keeps')).toBe(1)
})

it('the first request passes the body on as it comes, and the joined request reads it too', async () => {
  let firstBody: Promise<string> | undefined
  const answer = await coalescedPair('/first-passes', 'pass', 'x'.repeat(1000), 'the end.', async (first) => {
    firstBody = first.then((r) => r.text())
  })
  expect(answer).toEqual({ status: 200, type: 'text/plain', length: 1008, end: 'the end.', coalesced: true })
  expect(await firstBody).toBe(`${'x'.repeat(1000)}the end.`)
  expect(requestsTo('/first-passes')).toBe(1)
})

it('a body larger than a joined copy may hold (half a MiB) is not copied: the joined request sends its own', async () => {
  const big = 'y'.repeat(512 * 1024 + 1)
  const answer = await coalescedPair('/too-big', 'read&keep', big, 'the end.', async () => {})
  expect(answer).toEqual({ status: 200, type: 'text/plain', length: big.length + 8, end: 'the end.', coalesced: false })
  expect(requestsTo('/too-big')).toBe(2)
})

it('a request dropped with the incoming request that sent it is given up: a later joiner sends its own, and nobody joins it after', async () => {
  const path = '/lost'
  expect(await (await call(path, 'early&short')).text()).toBe('early')
  await until(() => requestsTo(path) === 1, 'the fire-and-forget request reached the upstream')
  // A second and more later (past the first's deadline, before it is taken for lost), an identical GET joins it.
  const before = await coalesced()
  await new Promise((r) => setTimeout(r, 1_100))
  const joined = call(path, 'read&short')
  await until(async () => (await coalesced()) === before + 1, 'the second request joined the first')
  // Past the lost request's deadline and a second, the joined caller sends its own (before: TimeoutError).
  await until(() => requestsTo(path) === 2, 'the joined caller sent its own request')
  seen.get(path)![1]!.writeHead(200, { 'content-type': 'text/plain' }).end('its own')
  expect(await (await joined).json()).toEqual({ status: 200, type: 'text/plain', length: 7, end: 'its own', coalesced: false })
  // And the lost request is not joined any more (before: every identical GET joined it, and timed out).
  const next = call(path, 'read&short')
  await until(() => requestsTo(path) === 3, 'the next request reached the upstream')
  seen.get(path)![2]!.writeHead(200, { 'content-type': 'text/plain' }).end('the next')
  expect(await (await next).json()).toEqual({ status: 200, type: 'text/plain', length: 8, end: 'the next', coalesced: false })
})

