import { describe, expect, it } from 'vitest'
import { createResilientFetch } from '../src/index.js'

/** A transport that answers 200 and records the request fetch would build from what it was given. */
function recording() {
  const sent: Request[] = []
  const fetch = async (input: RequestInfo | URL, init?: RequestInit) => {
    sent.push(new Request(input, init))
    return new Response('ok')
  }
  return { sent, fetch }
}

describe("a Request's referrer and referrer policy", () => {
  it('reach the transport as the Request has them, though each attempt goes with an init of ours (fetch(request, init) would reset them)', async () => {
    const { sent, fetch } = recording()
    const rf = createResilientFetch({ fetch, fallback: false })
    await rf(new Request('https://a.test/x', { referrerPolicy: 'no-referrer' }))
    await rf(new Request('https://a.test/x', { referrer: '' }), { resilience: { timeout: 5_000 } })
    // redirect: 'error' goes as 'manual' (README "Redirects"): still the Request's own pair.
    await rf(new Request('https://a.test/x', { referrerPolicy: 'same-origin', redirect: 'error' }))
    expect(sent.map((r) => [r.referrer, r.referrerPolicy])).toEqual([
      ['about:client', 'no-referrer'],
      ['', ''],
      ['about:client', 'same-origin'],
    ])
  })

  it('reach a hedge too (it goes with an init of its own where browsers cache)', async () => {
    const sent: Request[] = []
    // The first attempt never answers (until the winner aborts it): the hedge answers.
    const fetch = (input: RequestInfo | URL, init?: RequestInit) => {
      const request = new Request(input, init)
      sent.push(request)
      if (sent.length > 1) return Promise.resolve(new Response('hedge'))
      return new Promise<Response>((_, reject) => request.signal.addEventListener('abort', () => reject(request.signal.reason)))
    }
    const rf = createResilientFetch({ fetch, fallback: false, hedge: { delay: 1, budget: false } })
    const response = await rf(new Request('https://a.test/x', { referrerPolicy: 'origin' }))
    expect(await response.text()).toBe('hedge')
    expect(sent.map((r) => r.referrerPolicy)).toEqual(['origin', 'origin'])
  })

  it("a caller's own init resets them, as fetch(request, init) does: any member fetch reads, but one that is undefined", async () => {
    const { sent, fetch } = recording()
    const rf = createResilientFetch({ fetch, fallback: false })
    const request = () => new Request('https://a.test/x', { referrer: 'https://a.test/page', referrerPolicy: 'unsafe-url' })
    const inits: RequestInit[] = [{ headers: { 'x-a': '1' } }, { redirect: 'error' }, { signal: null }, { cache: 'no-cache' }, { referrerPolicy: 'origin' }, { referrer: '' }, { headers: undefined }]
    for (const init of inits) await rf(request(), init)
    await rf(request(), { resilience: { timeout: 5_000 } })
    const reset = ['about:client', '']
    const kept = ['https://a.test/page', 'unsafe-url']
    expect(sent.map((r) => [r.referrer, r.referrerPolicy])).toEqual([reset, reset, reset, reset, ['about:client', 'origin'], ['', ''], kept, kept])
    // What fetch builds from the same arguments.
    expect(inits.map((init) => new Request(request(), init)).map((r) => [r.referrer, r.referrerPolicy])).toEqual(sent.slice(0, -1).map((r) => [r.referrer, r.referrerPolicy]))
  })

  it("the caller's own init wins over the Request's", async () => {
    const { sent, fetch } = recording()
    const rf = createResilientFetch({ fetch, fallback: false })
    await rf(new Request('https://a.test/x', { referrerPolicy: 'no-referrer' }), { referrerPolicy: 'origin' })
    expect(sent[0]!.referrerPolicy).toBe('origin')
  })
})
