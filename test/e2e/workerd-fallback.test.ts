/**
 * The fallback in workerd across incoming requests: one resilient fetch per isolate keeps last-known-good copies for
 * every request. workerd drops what a request that answered left running (unless handed to waitUntil), so the copy
 * of a response whose handler answered without reading its body is never finished: it must not keep the stored copy
 * from answering the failures that come after.
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
export default {
  async fetch(request, env, ctx) {
    const url = new URL(request.url)
    if (url.pathname === '/store-errors') return Response.json(storeErrors)
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
const endless: ServerResponse[] = []

beforeAll(async () => {
  upstream = createServer((_req, res) => {
    if (answer === 'good') return void res.end('version one')
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
