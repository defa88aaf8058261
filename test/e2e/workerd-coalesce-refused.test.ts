/**
 * README "Coalescing identical requests", in a Worker: "This part loads only in workerd (0.8 kB gzipped), with the stage's
 * own chunk: a call waits for both, and if it will not load, coalescing is off there (calls send their own requests; the
 * console says so once per instance, `resilient-fetch: coalesce is off: …`)." Held in workerd (Miniflare) against a real
 * node:http upstream on 127.0.0.1, with the Worker bundled so that that part (src/stages/handover.ts) will not load: its
 * module throws when the stage's import() evaluates it. Identical GETs of two incoming requests (each with its
 * waitUntil, so they would be joined) each send their own request and are answered; the console said so once.
 */
import { resolve } from 'node:path'
import type { Plugin } from 'esbuild'
import { expect, it } from 'vitest'
import { until, workerAgainstHoldingUpstream } from './workerd-harness.js'

const WORKER = `
import { createResilientFetch, resilienceInfo } from ${JSON.stringify(resolve(import.meta.dirname, '../../src/index.ts'))}
// The console's warnings, kept for the test (then passed on).
const warnings = []
const warn = console.warn.bind(console)
console.warn = (...args) => (warnings.push(args.map(String).join(' ')), warn(...args))
const rf = createResilientFetch({ coalesce: true, fallback: false, retry: false, timeout: { attempt: 60_000, total: 60_000 } }) // the test's own timeout: what must come is bounded by it alone
export default {
  async fetch(request, env, ctx) {
    const url = new URL(request.url)
    if (url.pathname === '/coalesced') return new Response(String(rf.snapshot().totals.coalesced))
    if (url.pathname === '/warnings') return Response.json(warnings)
    const response = await rf(url.searchParams.get('target'), { resilience: { waitUntil: (promise) => ctx.waitUntil(promise) } })
    return Response.json({ status: response.status, body: await response.text(), coalesced: resilienceInfo(response)?.coalesced ?? false })
  },
}
`

/** src/stages/handover.ts, bundled as a module that throws when evaluated: the stage's import() of it rejects. */
const REFUSED: Plugin = {
  name: 'handover-refused',
  setup(build) {
    build.onResolve({ filter: /[/\\]handover\.js$/ }, () => ({ path: 'handover', namespace: 'refused' }))
    build.onLoad({ filter: /.*/, namespace: 'refused' }, () => ({ contents: "throw new Error('handover chunk refused')", loader: 'js' }))
  },
}

const env = workerAgainstHoldingUpstream(WORKER, 'workerd-coalesce-refused', undefined, [REFUSED])
const call = () => env.miniflare.dispatchFetch(`http://worker.test/?target=${encodeURIComponent(`${env.upstream.origin}/item`)}`)
const get = async (path: string) => (await env.miniflare.dispatchFetch(`http://worker.test${path}`)).json()

it('where the coalesce part will not load: identical GETs each send their own request and are answered; the console says so once', async () => {
  const first = call()
  expect(await until(() => env.upstream.requestsTo('/item') === 1)).toBe(true)
  const second = call()
  // Not joined: the second sends its own request while the first is held.
  expect(await until(() => env.upstream.requestsTo('/item') === 2)).toBe(true)
  for (const [i, res] of env.upstream.seen.get('/item')!.entries()) res.writeHead(200, { 'content-type': 'text/plain' }).end(`answer ${i + 1}`)
  expect(await (await first).json()).toEqual({ status: 200, body: 'answer 1', coalesced: false })
  expect(await (await second).json()).toEqual({ status: 200, body: 'answer 2', coalesced: false })
  // Calls go on: a third is answered too.
  const third = call()
  expect(await until(() => env.upstream.requestsTo('/item') === 3)).toBe(true)
  env.upstream.seen.get('/item')![2]!.writeHead(200, { 'content-type': 'text/plain' }).end('answer 3')
  expect(await (await third).json()).toEqual({ status: 200, body: 'answer 3', coalesced: false })
  expect(await get('/coalesced')).toBe(0)
  const warnings = (await get('/warnings')) as string[]
  expect(warnings, 'said once').toHaveLength(1)
  expect(warnings[0]).toMatch(/^resilient-fetch: coalesce is off: .*handover chunk refused/)
})
