/**
 * /events in workerd without the compatibility flag enable_request_signal (a Worker built with createProxy keeps its own
 * flags): a client that goes away aborts no signal and cancels no stream, and workerd stops the stream's timer with its
 * request. Its listener on the isolate's breakers must not stay for good: a calm isolate sends no events to fill its
 * backlog, so each dashboard reload would leave one more behind.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { connect, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { build } from 'esbuild'
import { Miniflare } from 'miniflare'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { MAX_BACKLOG } from '../../src/worker/events.js'

const WORKER = `
import { eventStream } from ${JSON.stringify(resolve(import.meta.dirname, '../../src/worker/events.ts'))}
// The breakers' events, counting the listeners on them.
class Source extends EventTarget {
  listeners = 0
  addEventListener(type, listener) { this.listeners++; super.addEventListener(type, listener) }
  removeEventListener(type, listener) { this.listeners--; super.removeEventListener(type, listener) }
}
const source = new Source()
const snapshot = () => ({ at: Date.now(), breakers: [], bulkheads: [], totals: {}, latencies: [] })
export default {
  fetch(request) {
    const path = new URL(request.url).pathname
    if (path === '/listeners') return Response.json(source.listeners)
    // A breaker's state change, as another request's call makes it.
    if (path === '/change') return Response.json(source.dispatchEvent(new CustomEvent('statechange', { detail: { key: 'https://a.test', from: 'closed', to: 'open' } })))
    return eventStream(source, snapshot, request.signal)
  },
}
`

let dir: string
let miniflare: Miniflare
let base: URL
const clients: Socket[] = []

beforeAll(async () => {
  // As workerd-harness.ts bundles, but without enable_request_signal, as in a Worker that never set it.
  dir = await mkdtemp(join(tmpdir(), 'rf-events-dead-client-'))
  await writeFile(join(dir, 'entry.js'), WORKER)
  await build({ entryPoints: [join(dir, 'entry.js')], bundle: true, format: 'esm', platform: 'neutral', target: 'es2022', outfile: join(dir, 'worker.mjs'), logLevel: 'error' })
  miniflare = new Miniflare({ modules: true, scriptPath: join(dir, 'worker.mjs'), modulesRoot: dir, compatibilityDate: '2026-04-01', compatibilityFlags: [] })
  base = await miniflare.ready
})

afterAll(async () => {
  for (const client of clients) client.destroy()
  await miniflare?.dispose()
  if (dir) await rm(dir, { recursive: true, force: true })
})

/** An /events client on a raw socket, once its first snapshot arrived. */
function follow(): Promise<Socket> {
  return new Promise((done, fail) => {
    const socket = connect(Number(base.port), base.hostname, () => socket.write('GET /events HTTP/1.1\r\nhost: proxy.test\r\n\r\n'))
    socket.once('error', fail)
    socket.on('data', (chunk) => {
      if (chunk.toString().includes('event: snapshot')) done(socket)
    })
    clients.push(socket)
  })
}

const listeners = async () => Number(await (await miniflare.dispatchFetch('http://proxy.test/listeners')).text())

it('a client that went away leaves no listener behind once its stream is seen to be dead', async () => {
  const gone = await follow()
  expect(await listeners()).toBe(1)
  gone.destroy()
  // Each try connects one more client that stays; what is left beyond those is the one that went away.
  let live = 0
  await expect
    .poll(
      async () => {
        await follow()
        live++
        return (await listeners()) - live
      },
      { timeout: 20_000, interval: 1_000 },
    )
    .toBe(0)
})

it('a client that went away leaves no listener behind once an event finds its stream dead, long before its backlog fills', async () => {
  const before = await listeners()
  const gone = await follow()
  expect(await listeners()).toBe(before + 1)
  gone.destroy()
  let changes = 0
  await expect
    .poll(
      async () => {
        await (await miniflare.dispatchFetch('http://proxy.test/change')).arrayBuffer()
        changes++
        return await listeners()
      },
      { timeout: 20_000, interval: 1_000 },
    )
    .toBe(before)
  expect(changes).toBeLessThan(MAX_BACKLOG)
})
