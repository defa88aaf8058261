/**
 * README "Coalescing identical requests", in a Worker: "The rule is the same in a Durable Object, though its requests
 * share their I/O (nothing is dropped there): pass waitUntil: (p) => this.ctx.waitUntil(p) for its calls to be joined."
 * Held in workerd (Miniflare) against a real node:http upstream on 127.0.0.1: a Durable Object keeps one resilient fetch;
 * an identical GET of another of its requests joins the first only when the first passed its waitUntil.
 */
import { resolve } from 'node:path'
import { expect, it } from 'vitest'
import { until, workerAgainstHoldingUpstream } from './workerd-harness.js'

const SOURCE = `
import { createResilientFetch, resilienceInfo } from ${JSON.stringify(resolve(import.meta.dirname, '../../src/index.ts'))}
export class Shared {
  constructor(ctx) {
    this.ctx = ctx
    this.rf = createResilientFetch({ coalesce: true, fallback: false, retry: false })
  }
  async fetch(request) {
    const url = new URL(request.url)
    if (url.pathname === '/coalesced') return new Response(String(this.rf.snapshot().totals.coalesced))
    const waitUntil = url.searchParams.has('keep') ? (p) => this.ctx.waitUntil(p) : undefined
    const response = await this.rf(url.searchParams.get('target'), { resilience: { waitUntil } })
    return Response.json({ status: response.status, body: await response.text(), coalesced: resilienceInfo(response)?.coalesced ?? false })
  }
}
export default {
  fetch(request, env) {
    return env.SHARED.get(env.SHARED.idFromName('one')).fetch(request)
  },
}
`

const env = workerAgainstHoldingUpstream(SOURCE, 'coalesce-do', { durableObjects: { SHARED: 'Shared' } })

const requestsTo = (path: string) => env.upstream.requestsTo(path)
const coalesced = async () => Number(await (await env.miniflare.dispatchFetch('http://worker.test/coalesced')).text())
const call = (path: string, keep: boolean) => env.miniflare.dispatchFetch(`http://worker.test/?target=${encodeURIComponent(env.upstream.origin + path)}${keep ? '&keep' : ''}`)

it("with the first call's waitUntil, an identical GET of another of the object's requests joins it: one upstream request", async () => {
  const path = '/kept'
  const before = await coalesced()
  const first = call(path, true)
  expect(await until(() => requestsTo(path) === 1)).toBe(true)
  const second = call(path, false)
  await until(async () => (await coalesced()) === before + 1)
  expect(await coalesced()).toBe(before + 1)
  env.upstream.seen.get(path)![0]!.writeHead(200, { 'content-type': 'text/plain' }).end('shared')
  expect(await (await first).json()).toEqual({ status: 200, body: 'shared', coalesced: false })
  expect(await (await second).json()).toEqual({ status: 200, body: 'shared', coalesced: true })
  expect(requestsTo(path)).toBe(1)
})

it('without it, the identical GET sends its own request', async () => {
  const path = '/not-kept'
  const before = await coalesced()
  const first = call(path, false)
  expect(await until(() => requestsTo(path) === 1)).toBe(true)
  const second = call(path, false)
  await until(() => requestsTo(path) === 2)
  expect(requestsTo(path)).toBe(2)
  for (const [i, res] of env.upstream.seen.get(path)!.entries()) res.writeHead(200, { 'content-type': 'text/plain' }).end(`own ${i}`)
  expect(await (await first).json()).toEqual({ status: 200, body: 'own 0', coalesced: false })
  expect(await (await second).json()).toEqual({ status: 200, body: 'own 1', coalesced: false })
  expect(await coalesced()).toBe(before)
})
