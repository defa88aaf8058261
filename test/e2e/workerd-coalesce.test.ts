/**
 * Coalescing in workerd across incoming requests: a Worker keeps one resilient fetch per isolate, so an
 * identical GET of one incoming request may join another's, when that one's call passed its waitUntil (workerd
 * drops what a request left running once it answered, unless given to waitUntil). workerd cancels a request whose
 * code waits on nothing of its own ("hung"): the joined caller must keep a timer of its own while it waits. And a
 * request's I/O objects are its own: a joined request cannot read the body the first request's fetch opened, so it
 * gets the bytes, read where they arrived, and builds its own Response.
 */
import { resolve } from 'node:path'
import type { Miniflare } from 'miniflare'
import { expect, it } from 'vitest'
import { workerAgainstHoldingUpstream } from './workerd-harness.js'

const WORKER = `
import { createResilientFetch, resilienceInfo } from ${JSON.stringify(resolve(import.meta.dirname, '../../src/index.ts'))}
const rf = createResilientFetch({ coalesce: true, fallback: false, retry: false })
const short = createResilientFetch({ coalesce: true, fallback: false, retry: false, timeout: { attempt: 5_000, total: 5_000 } })
export default {
  async fetch(request, env, ctx) {
    const url = new URL(request.url)
    if (url.pathname === '/coalesced') return new Response(String(rf.snapshot().totals.coalesced + short.snapshot().totals.coalesced))
    const mode = url.searchParams.get('mode')
    const waitUntil = url.searchParams.has('keep') ? (promise) => ctx.waitUntil(promise) : undefined
    const call = (url.searchParams.has('short') ? short : rf)(url.searchParams.get('target'), { resilience: { waitUntil } })
    // 'twice' makes a second identical call in this same request, then answers both bodies.
    if (mode === 'twice') {
      const responses = await Promise.all([call, rf(url.searchParams.get('target'), { resilience: { waitUntil } })])
      return Response.json(await Promise.all(responses.map(async (r) => ({ body: await r.text(), coalesced: resilienceInfo(r)?.coalesced ?? false }))))
    }
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
    // 'head' answers the head as the call gave it.
    if (mode === 'head') return Response.json({ status: response.status, statusText: response.statusText, ok: response.ok, headers: [...response.headers], body: await response.text(), coalesced: resilienceInfo(response)?.coalesced ?? false })
    const body = await response.text()
    return Response.json({ status: response.status, type: response.headers.get('content-type'), length: body.length, end: body.slice(-8), coalesced: resilienceInfo(response)?.coalesced ?? false })
  },
}
`

const env = workerAgainstHoldingUpstream(WORKER, 'workerd-coalesce')
/** The upstream's requests by path, each with its response (the test answers it). */
const seen = () => env.upstream.seen

async function until(condition: () => boolean | Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (await condition()) return
    await new Promise((r) => setTimeout(r, 10))
  }
  throw new Error(`gave up waiting until ${what}`)
}

const requestsTo = (path: string) => env.upstream.requestsTo(path)
const coalesced = async () => Number(await (await env.miniflare.dispatchFetch('http://worker.test/coalesced')).text())
/**
 * An incoming request for the upstream's `path`; `mode` is 'read', 'drop', 'pass', 'head', 'early' or 'twice', '&keep' adds the
 * request's waitUntil and '&short' takes the instance with a 5 s deadline.
 */
const call = (path: string, mode = 'read') => env.miniflare.dispatchFetch(`http://worker.test/?mode=${mode}&target=${encodeURIComponent(env.upstream.origin + path)}`)

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
  const res = seen().get(path)![0]!
  res.writeHead(200, { 'content-type': 'text/plain' })
  res.write(head)
  await beforeEnd(first)
  res.end(tail)
  // A joined request that had to send its own gets the whole body at once.
  let answered = false
  const own = until(() => answered || requestsTo(path) === 2, 'a second request or the answer').then(() => seen().get(path)?.[1]?.writeHead(200, { 'content-type': 'text/plain' }).end(head + tail))
  const answer = (await (await second).json()) as { status: number; length: number; end: string; coalesced: boolean; type: string }
  answered = true
  await own
  await first
  return answer
}

it('an identical GET of another incoming request joins the first one (with its waitUntil) and is answered, not cancelled as hung', async () => {
  // A quarter of a MiB: the bytes are whole when the first request's own read ends (and its request with it).
  const answer = await coalescedPair('/both-read', 'read&keep', 'x'.repeat(256 * 1024), 'the end.', async () => {})
  expect(answer).toEqual({ status: 200, type: 'text/plain', length: 256 * 1024 + 8, end: 'the end.', coalesced: true })
  expect(requestsTo('/both-read')).toBe(1)
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
  const answer = await coalescedPair('/first-passes', 'pass&keep', 'x'.repeat(1000), 'the end.', async (first) => {
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

it('a fire-and-forget call with no waitUntil (workerd drops it with its request) is not joined: a GET of another incoming request sends its own at once', async () => {
  const path = '/forgotten'
  expect(await (await call(path, 'early')).text()).toBe('early')
  await until(() => requestsTo(path) === 1, 'the fire-and-forget request reached the upstream')
  const started = Date.now()
  const second = call(path)
  // Before, it joined the dropped request and waited for it until its own 30 s deadline: a TimeoutError.
  await until(() => requestsTo(path) === 2, 'the second request reached the upstream')
  seen().get(path)![1]!.writeHead(200, { 'content-type': 'text/plain' }).end('its own')
  expect(await (await second).json()).toEqual({ status: 200, type: 'text/plain', length: 7, end: 'its own', coalesced: false })
  expect(Date.now() - started).toBeLessThan(5_000)
})

it('a fire-and-forget call with its waitUntil lives until its answer: a GET of another incoming request joins it and gets that answer', async () => {
  const path = '/kept'
  expect(await (await call(path, 'early&keep&short')).text()).toBe('early')
  await until(() => requestsTo(path) === 1, 'the fire-and-forget request reached the upstream')
  const before = await coalesced()
  const second = call(path, 'read&short')
  await until(async () => (await coalesced()) === before + 1, 'the second request joined the first')
  // Before, workerd had dropped the shared request with the first incoming request: the joined one timed out (5 s).
  seen().get(path)![0]!.writeHead(200, { 'content-type': 'text/plain' }).end('shared')
  expect(await (await second).json()).toEqual({ status: 200, type: 'text/plain', length: 6, end: 'shared', coalesced: true })
  expect(requestsTo(path)).toBe(1)
})

it("what it costs: identical GETs of one incoming request share a request only with that request's waitUntil", async () => {
  for (const [path, mode, sent] of [['/twice', 'twice', 2], ['/twice-kept', 'twice&keep', 1]] as const) {
    const both = call(path, mode)
    await until(() => requestsTo(path) === sent, `${sent} request(s) reached the upstream`)
    for (const res of seen().get(path)!) res.writeHead(200, { 'content-type': 'text/plain' }).end('ok')
    const answers = (await (await both).json()) as { body: string; coalesced: boolean }[]
    expect(answers).toEqual([{ body: 'ok', coalesced: false }, { body: 'ok', coalesced: sent === 1 }])
    expect(requestsTo(path)).toBe(sent)
  }
})

// fetch (workerd's too) resolves a status up to 999, which new Response refuses; it keeps a field's edges ('y \t '), and
// repeated fields whose last is empty read 'x, ', where a Headers set from those values trims them ('x,', 'y').
it.each([
  ['a status past 599', 999, ['X-A', 'x']],
  ['header values with their edges', 200, ['X-A', 'x', 'X-A', '', 'X-B', 'y \t ']],
])("a joined request's Response has the head workerd's fetch gave: %s", async (_, status, fields) => {
  const path = `/odd-head-${status}`
  const before = await coalesced()
  const first = call(path, 'head&keep')
  await until(() => requestsTo(path) === 1, 'the first request reached the upstream')
  const second = call(path, 'head')
  await until(async () => (await coalesced()) === before + 1, 'the second request joined the first')
  seen().get(path)![0]!.writeHead(status, 'Custom', [...fields, 'Content-Type', 'text/plain']).end('shared')
  const [theirs, joined] = (await Promise.all([first, second].map(async (r) => (await r).json()))) as { headers: [string, string][] }[]
  expect(theirs).toMatchObject({ status, statusText: 'Custom', ok: status === 200, body: 'shared', coalesced: false })
  expect(theirs!.headers).toEqual(expect.arrayContaining(fields.length > 2 ? [['x-a', 'x, '], ['x-b', 'y \t ']] : [['x-a', 'x']]))
  // Before, the joined request's copy threw for the status (that request answered { error: 'RangeError' }) and read 'x,' and 'y'.
  expect(joined).toEqual({ ...theirs, coalesced: true })
  expect(requestsTo(path)).toBe(1)
})
