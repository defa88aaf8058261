/**
 * /events in workerd, clients on real sockets: the isolate's streams send one snapshot, built and serialised once a
 * tick, each from its own timer (a request whose only waiter is another request's timer is killed as hung). Every
 * client must still get whole, parseable snapshots, one a tick, though the same bytes go to all of them.
 */
import { connect, type Socket } from 'node:net'
import { resolve } from 'node:path'
import type { Miniflare } from 'miniflare'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { bundleWorker, type WorkerBundle } from './workerd-harness.js'

const WORKER = `
import { eventStream } from ${JSON.stringify(resolve(import.meta.dirname, '../../src/worker/events.ts'))}
const source = new EventTarget()
let builds = 0
const snapshot = () => ({ at: Date.now(), breakers: [{ key: 'https://a.test', build: ++builds }], bulkheads: [], totals: {}, latencies: [] })
export default {
  fetch(request) {
    if (new URL(request.url).pathname === '/builds') return Response.json(builds)
    return eventStream(source, snapshot, request.signal)
  },
}
`

const CLIENTS = 4
/** Snapshots each client waits for. */
const WANTED = 4

let worker: WorkerBundle
let miniflare: Miniflare
let base: URL
const clients: Socket[] = []

beforeAll(async () => {
  worker = await bundleWorker(WORKER, 'workerd-events-shared')
  miniflare = await worker.start()
  base = await miniflare.ready
})

afterAll(async () => {
  for (const client of clients) client.destroy()
  await miniflare?.dispose()
  await worker?.remove()
})

/** An /events client on a raw socket; `builds()` lists the build number of each snapshot it got, in order. */
function follow(): { builds(): number[] } {
  let text = ''
  const socket = connect(Number(base.port), base.hostname, () => socket.write('GET /events HTTP/1.1\r\nhost: proxy.test\r\n\r\n'))
  socket.on('error', () => {})
  socket.on('data', (chunk) => void (text += chunk.toString()))
  clients.push(socket)
  // Chunked framing aside, each snapshot is one line of JSON after `data: `; a line still arriving is not read yet.
  return { builds: () => [...text.matchAll(/event: snapshot\r?\ndata: (.*?)\r?\n/g)].map((match) => JSON.parse(match[1]).breakers[0].build as number) }
}

it('several clients get every tick\'s snapshot whole, and the isolate builds one a tick for all of them', async () => {
  const followers = Array.from({ length: CLIENTS }, () => follow())
  await expect.poll(() => Math.min(...followers.map((f) => f.builds().length)), { timeout: 20_000, interval: 100 }).toBeGreaterThanOrEqual(WANTED)
  for (const client of clients) client.destroy()
  const builds = Number(await (await miniflare.dispatchFetch('http://proxy.test/builds')).text())
  // Each client saw a snapshot per tick, no build twice, and the builds go up by one a tick: shared, not one per client.
  for (const follower of followers) {
    const seen = follower.builds()
    for (let i = 1; i < seen.length; i++) expect(seen[i]).toBeGreaterThan(seen[i - 1])
  }
  const ticks = Math.max(...followers.map((f) => f.builds().length))
  // A tick may come between the last poll and the count.
  expect(builds).toBeLessThanOrEqual(ticks + 2)
})
