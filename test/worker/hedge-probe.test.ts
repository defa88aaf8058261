// HEDGE_MS with a recovered but slow origin behind a half-open breaker: its probe loses the race to the
// other origin, yet is left to finish, so its breaker gets a verdict (the audit: it stayed half-open for good).
import { describe, expect, it } from 'vitest'
import { context, fakeUpstream, get, proxy, snapshotOf } from './helpers.js'

const A = 'http://a.probe.test'
const B = 'http://b.probe.test'

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/**
 * Two origins, hedged after 20 ms; A's breaker opens on its first answer (a 503) for 50 ms. Then A
 * answers `status` once the test lets it (an abort ends it first), B answers 200 at once. Returns the proxy
 * with A half-open, and the next request's rotation starting at A.
 */
async function setup(status: number) {
  // A's probe answers only once the test lets it, after the call has its answer: a call that waited for it would hang.
  let answerA!: () => void
  const aMayAnswer = new Promise<void>((resolve) => (answerA = resolve))
  let aAsked = 0
  let aborted = 0
  const upstream = fakeUpstream((request) => {
    if (new URL(request.url).origin === B) return Response.json({ from: 'b' })
    if (aAsked++ === 0) return new Response('down', { status: 503 })
    return new Promise<Response>((resolve, reject) => {
      void aMayAnswer.then(() => resolve(new Response(`from a, ${status}`, { status })))
      request.signal.addEventListener('abort', () => {
        aborted++
        reject(request.signal.reason)
      })
    })
  })
  const handler = proxy({ routes: { '/api/': [A, B] }, fetch: upstream.fetch, hedge: 20, failureThreshold: 1, openDuration: 50, timeout: 2_000 })
  const health = async () => (await (await handler(get('/health'))).json()) as { status: string; breakers: Record<string, string> }
  // A first: its 503 opens its breaker, the retry on B answers.
  expect(await (await handler(get('/api/x'))).json()).toEqual({ from: 'b' })
  // B first (the rotation), A passed over while open.
  expect(await (await handler(get('/api/x'))).json()).toEqual({ from: 'b' })
  await sleep(80)
  expect((await health()).breakers[A]).toBe('half-open')
  return { handler, health, upstream, aborted: () => aborted, answerA }
}

describe('HEDGE_MS and a half-open origin whose probe loses the race', () => {
  it("the slow probe on A is left to finish after B's answer won: its 200 closes A's breaker, /health says ok", async () => {
    const { handler, health, upstream, aborted, answerA } = await setup(200)
    const ctx = context()
    const response = await handler(get('/api/x'), {}, ctx)
    // B's answer, while A's probe has not answered yet: the call did not wait for it.
    expect(await response.json()).toEqual({ from: 'b' })
    expect(upstream.seen.map((r) => new URL(r.url).origin)).toEqual([A, B, B, A, B])
    answerA()
    await ctx.settle()
    expect(aborted()).toBe(0)
    expect(await health()).toMatchObject({ status: 'ok', breakers: { [A]: 'closed', [B]: 'closed' } })
    const snapshot = await snapshotOf(handler)
    expect(snapshot.totals.hedges).toBe(1)
    expect(snapshot.bulkheads.every((b) => b.active === 0)).toBe(true)
  })

  it("a slow probe that fails after losing re-opens A's breaker", async () => {
    const { handler, health, answerA } = await setup(503)
    const ctx = context()
    expect(await (await handler(get('/api/x'), {}, ctx)).json()).toEqual({ from: 'b' })
    answerA()
    await ctx.settle()
    expect((await health()).breakers[A]).toBe('open')
  })
})
