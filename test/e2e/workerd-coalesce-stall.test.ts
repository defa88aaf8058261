/**
 * README "Coalescing identical requests", in a Worker: "Bodies up to 512 KiB are shared this way. A larger body, or one
 * that stops coming for a second, makes the joined caller send its own request." The second half, held in workerd
 * (Miniflare) against a real node:http upstream on 127.0.0.1: the shared body stops after its first part (the test
 * holds the rest), and the joined incoming request sends its own request and answers with that one's body; the first
 * request still gets the whole shared body once the test lets it end.
 */
import { resolve } from 'node:path'
import { expect, it } from 'vitest'
import { until, workerAgainstHoldingUpstream } from './workerd-harness.js'

const WORKER = `
import { createResilientFetch, resilienceInfo } from ${JSON.stringify(resolve(import.meta.dirname, '../../src/index.ts'))}
const rf = createResilientFetch({ coalesce: true, fallback: false, retry: false, timeout: { attempt: 60_000, total: 60_000 } }) // the test's own timeout: what must come is bounded by it alone
export default {
  async fetch(request, env, ctx) {
    const url = new URL(request.url)
    if (url.pathname === '/coalesced') return new Response(String(rf.snapshot().totals.coalesced))
    const waitUntil = url.searchParams.has('keep') ? (promise) => ctx.waitUntil(promise) : undefined
    // '&none': the call arms no deadline (timeout: false).
    const none = url.searchParams.has('none')
    let response
    try {
      response = await rf(url.searchParams.get('target'), { resilience: { waitUntil, ...(none ? { timeout: false } : {}) } })
    } catch (error) {
      return Response.json({ error: error.name, scope: error.scope, timeout: error.timeout })
    }
    const body = await response.text()
    return Response.json({ status: response.status, body, coalesced: resilienceInfo(response)?.coalesced ?? false })
  },
}
`

const env = workerAgainstHoldingUpstream(WORKER, 'workerd-coalesce-stall')
/** The upstream's requests, in order (the test answers each); `until` polls without a deadline (the test's timeout bounds it). */
const seen = () => env.upstream.all

const call = (query: string, path = '/item') => env.miniflare.dispatchFetch(`http://worker.test/?target=${encodeURIComponent(`${env.upstream.origin}${path}`)}${query}`)
const coalesced = async () => Number(await (await env.miniflare.dispatchFetch('http://worker.test/coalesced')).text())

it('a shared body that stops coming for a second: the joined request sends its own and answers with it; the first still reads the whole body', async () => {
  const first = call('&keep')
  expect(await until(() => seen().length === 1)).toBe(true)
  const second = call('')
  expect(await until(async () => (await coalesced()) === 1)).toBe(true)
  seen()[0]!.writeHead(200, { 'content-type': 'text/plain' })
  seen()[0]!.write('part one,')
  // The rest is held: after a second of nothing, the joined request sends its own.
  await until(() => seen().length === 2)
  expect(seen(), 'the joined request sent its own').toHaveLength(2)
  seen()[1]!.writeHead(200, { 'content-type': 'text/plain' }).end('its own, whole')
  expect(await (await second).json()).toEqual({ status: 200, body: 'its own, whole', coalesced: false })
  seen()[0]!.end('part two')
  expect(await (await first).json()).toEqual({ status: 200, body: 'part one,part two', coalesced: false })
  expect(seen()).toHaveLength(2)
})

/*
 * README "Coalescing identical requests", in a Worker: "A joined caller keeps a timer of its own (workerd cancels a request
 * that waits on nothing of its own): if the shared request has not answered a second past its total deadline, or 31 s
 * after it began (workerd may have dropped it: a total deadline over 30 s or none does not stretch that), the caller sends
 * its own request, or times out if its own total deadline has passed; nobody joins it after that." The shared request
 * (its call arms no deadline, `timeout: false`, as the joined call: the timeout is part of what must be identical; kept
 * by its waitUntil) is held by the upstream and never answers. No timing is asserted: were the 31 s stretched by the
 * missing deadline, or the joined caller without its timer, it would wait on and the test's own timeout would end it.
 */
it('a joined caller whose shared request (no deadline) has not answered 31 s after it began sends its own; nobody joins the old one after that', { timeout: 120_000 }, async () => {
  const before = await coalesced()
  const first = call('&keep&none', '/held')
  expect(await until(() => env.upstream.requestsTo('/held') === 1)).toBe(true)
  const joined = call('&none', '/held')
  expect(await until(async () => (await coalesced()) === before + 1)).toBe(true)
  // Its timer: once it fires, the joined caller sends its own request (unbounded wait; the test's timeout alone bounds it).
  await until(() => env.upstream.requestsTo('/held') === 2)
  env.upstream.seen.get('/held')![1]!.writeHead(200, { 'content-type': 'text/plain' }).end('its own')
  expect(await (await joined).json(), 'sent its own request').toEqual({ status: 200, body: 'its own', coalesced: false })
  // Nobody joins the old request after that: an identical GET sends its own.
  const later = call('&keep&none', '/held')
  await until(() => env.upstream.requestsTo('/held') === 3)
  env.upstream.seen.get('/held')![2]!.writeHead(200, { 'content-type': 'text/plain' }).end('later')
  expect(await (await later).json()).toEqual({ status: 200, body: 'later', coalesced: false })
  expect(await coalesced(), 'only the first joined').toBe(before + 1)
  env.upstream.seen.get('/held')![0]!.writeHead(200, { 'content-type': 'text/plain' }).end('first')
  expect(await (await first).json()).toEqual({ status: 200, body: 'first', coalesced: false })
})
