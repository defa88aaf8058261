/**
 * The fallback in workerd across incoming requests: one resilient fetch per isolate keeps last-known-good copies for
 * every request. workerd drops what a request that answered left running (unless handed to waitUntil), so the copy
 * of a response whose handler answered without reading its body is never finished: it must not keep the stored copy
 * from answering the failures that come after; a write a clear() came after that its request dropped must not keep
 * its URL from being served for good; and a clear() of one instance on 'auto' reaches the copies another instance of the
 * isolate has in flight.
 */
import { createServer, type Server, type ServerResponse } from 'node:http'
import { resolve } from 'node:path'
import type { Miniflare } from 'miniflare'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { closeServer, listen } from './harness.js'
import { bundleWorker, type WorkerBundle } from './workerd-harness.js'

const WORKER = `
import { createResilientFetch } from ${JSON.stringify(resolve(import.meta.dirname, '../../src/index.ts'))}
const rf = createResilientFetch({ retry: false, fallback: { store: 'memory' } })
const storeErrors = []
rf.addEventListener('storeerror', (event) => storeErrors.push(String(event.detail.error)))

// A store whose put first sends a request of its own (as a remote store's does), in the incoming request that began it:
// when that one ends, workerd drops the answer, and the put never settles. Its write can still land later (/remote?mode=land).
const entries = new Map()
const lateWrites = []
let hang
const remote = {
  get: async (key) => entries.get(key),
  async put(key, entry) {
    if (hang === undefined) return void entries.set(key, entry)
    const { slow, began } = hang
    hang = undefined
    lateWrites.push(() => entries.set(key, entry))
    began()
    await fetch(slow)
    entries.set(key, entry)
  },
  delete: async (key) => void entries.delete(key),
  clear: async () => entries.clear(),
}
const rfRemote = createResilientFetch({ retry: false, breaker: false, fallback: { store: remote } })

async function overRemote(url) {
  const mode = url.searchParams.get('mode')
  if (mode === 'clear') return Response.json(await rfRemote.clear().then(() => 'cleared'))
  if (mode === 'land') return Response.json(lateWrites.splice(0).map((write) => write()).length)
  if (mode === 'entries') return Response.json([...entries.keys()])
  const began = mode === 'hang' ? new Promise((resolve) => (hang = { slow: url.searchParams.get('slow'), began: resolve })) : undefined
  const response = await rfRemote(url.searchParams.get('target'))
  const body = await response.text()
  // Answers once the put has begun, without waitUntil: the put's own request is dropped with this one.
  await began
  return Response.json({ status: response.status, source: response.headers.get('x-resilient-source'), body })
}

// Two instances of one isolate on the 'auto' store (the Cache API here): a clear() of one (a logout) must reach the copies
// the other has in flight.
const autoA = createResilientFetch({ retry: false, breaker: false })
const autoB = createResilientFetch({ retry: false, breaker: false })

async function overAuto(url, ctx) {
  const mode = url.searchParams.get('mode')
  if (mode === 'clear') return Response.json(await autoB.clear().then(() => 'cleared'))
  const response = await autoA(url.searchParams.get('target'), { resilience: { waitUntil: (promise) => ctx.waitUntil(promise) } })
  // 'start' answers at once: the copy goes on reading the body in waitUntil.
  if (mode === 'start') return new Response('status ' + response.status)
  return Response.json({ status: response.status, source: response.headers.get('x-resilient-source'), body: await response.text() })
}

export default {
  async fetch(request, env, ctx) {
    const url = new URL(request.url)
    if (url.pathname === '/store-errors') return Response.json(storeErrors)
    if (url.pathname === '/remote') return overRemote(url)
    if (url.pathname === '/auto') return overAuto(url, ctx)
    const mode = url.searchParams.get('mode')
    const waitUntil = mode === 'keep' ? (promise) => ctx.waitUntil(promise) : undefined
    const response = await rf(url.searchParams.get('target'), { resilience: { waitUntil } })
    // 'drop' answers without reading the body: its copy is left unfinished when this request ends.
    if (mode === 'drop') return new Response('status ' + response.status)
    return Response.json({ status: response.status, source: response.headers.get('x-resilient-source'), body: await response.text() })
  },
}
`

let worker: WorkerBundle
let upstream: Server
let target: string
let miniflare: Miniflare
/** What the upstream answers next: 'good', 'endless' (a large body whose end the test sends) or 'down'. */
let answer: 'good' | 'endless' | 'down' = 'good'
/** The body of a good answer. */
let good = 'version one'
const endless: ServerResponse[] = []

beforeAll(async () => {
  upstream = createServer((req, res) => {
    // The request a put sends: answered 200 ms after, when the incoming request that began the put has ended.
    if (req.url === '/slow') return void setTimeout(() => res.end('ok'), 200)
    if (answer === 'good') return void res.end(good)
    if (answer === 'down') return void res.writeHead(503).end('down')
    res.writeHead(200).write('b'.repeat(300_000))
    endless.push(res)
  })
  target = `http://127.0.0.1:${await listen(upstream)}/a`
  worker = await bundleWorker(WORKER, 'workerd-fallback')
  miniflare = await worker.start()
})

afterAll(async () => {
  await miniflare?.dispose()
  for (const res of endless) res.destroy()
  await closeServer(upstream)
  await worker?.remove()
})

const call = async (mode: string) => (await miniflare.dispatchFetch(`http://worker.test/?mode=${mode}&target=${encodeURIComponent(target)}`)).text()

it('a copy its request left unfinished does not keep the stored copy from answering the failures after it', async () => {
  expect(JSON.parse(await call('keep'))).toEqual({ status: 200, source: null, body: 'version one' })
  // A second later (a URL is copied at most once a second): a 200 whose handler answers without reading its body.
  await new Promise((r) => setTimeout(r, 1_100))
  answer = 'endless'
  expect(await call('drop')).toBe('status 200')
  endless[0]!.end('the end')
  answer = 'down'
  // Before, each failure waited for that copy, gave up after 1 s with a storeerror and answered 503.
  for (let i = 0; i < 2; i++) expect(JSON.parse(await call('read'))).toEqual({ status: 200, source: 'fallback', body: 'version one' })
  expect(JSON.parse(await (await miniflare.dispatchFetch('http://worker.test/store-errors')).text())).toEqual([])
})

it('a write a clear() came after, dropped with its request, keeps its URL from being served only until it is taken for lost; its copy never is', async () => {
  const remote = async (mode: string, more = '') => JSON.parse(await (await miniflare.dispatchFetch(`http://worker.test/remote?mode=${mode}&target=${encodeURIComponent(target + '/me')}${more}`)).text())
  const slow = `&slow=${encodeURIComponent(new URL('/slow', target).href)}`
  answer = 'good'
  good = 'alice'
  expect(await remote('hang', slow)).toEqual({ status: 200, source: null, body: 'alice' })
  // Alice's write began before now: it is taken for lost (WRITE_LIMIT 10 s, LOST_AFTER 1 s) by then.
  const lost = Date.now() + 11_000
  expect(await remote('clear')).toBe('cleared')
  good = 'bob'
  expect(await remote('keep')).toEqual({ status: 200, source: null, body: 'bob' })
  answer = 'down'
  // Alice's write may still land: nothing is served yet.
  expect(await remote('read')).toEqual({ status: 503, source: null, body: 'down' })
  // Only bob's copy is stored: alice's put never went on (else it would have landed and been deleted), workerd dropped it.
  await new Promise((resolve) => setTimeout(resolve, 500))
  expect(await remote('entries')).toEqual([`GET ${target}/me`])
  expect(await remote('read')).toEqual({ status: 503, source: null, body: 'down' })
  await new Promise((resolve) => setTimeout(resolve, lost - Date.now() + 100))
  // Before, the URL was never served again.
  expect(await remote('read')).toEqual({ status: 200, source: 'fallback', body: 'bob' })
  // Alice's write lands after all, over bob's copy: it is deleted, never served.
  expect(await remote('land')).toBe(1)
  expect(await remote('read')).toEqual({ status: 503, source: null, body: 'down' })
  expect(await remote('entries')).toEqual([])
})

it("a clear() of one instance on 'auto' drops the copy another instance of the isolate has in flight", async () => {
  const auto = async (mode: string) => (await miniflare.dispatchFetch(`http://worker.test/auto?mode=${mode}&target=${encodeURIComponent(target + '/auto')}`)).text()
  answer = 'endless'
  const streaming = endless.length
  expect(await auto('start')).toBe('status 200')
  expect(JSON.parse(await auto('clear'))).toBe('cleared')
  // The body ends after the clear(): its copy then lands in the Cache API, or would. Real time: the write is workerd's.
  endless[streaming]!.end('the end')
  await new Promise((resolve) => setTimeout(resolve, 300))
  answer = 'down'
  // Before, the copy of a response from before the logout was served.
  expect(JSON.parse(await auto('read'))).toEqual({ status: 503, source: null, body: 'down' })
})
