/**
 * README "In a Service Worker": "Breaker state lives in the worker's memory and starts closed when the browser starts it
 * again. Tested in headless Chromium, in classic and module workers, against an upstream on another origin." The
 * Service Worker of test/e2e/sw-page (its instance: breaker failureThreshold 3, openDuration 60 s, no retry) opens its
 * breaker on three 503s from the upstream (127.0.0.1, another origin); the open breaker refuses the next call without a
 * request (CircuitOpenError), the upstream counting what reached it; then the browser stops the worker (as it stops an
 * idle one) and starts it again for the page's next call, which reaches the upstream: the breaker is closed, although
 * its 60 s open duration is far from over.
 */
import { describe, expect, it } from 'vitest'
import { bundleWorking, createUpstream, stopWorkers, swSuite, WORKING } from './sw-harness.js'

/** The upstream: 503 while failing, else 200 with the count of requests that reached it for the path. */
const upstream = createUpstream()
const { controlledPage, get, ask } = swSuite(upstream, { prefix: 'rf-sw-restart-', bundle: bundleWorking })

interface Snapshot {
  breakers: { key: string; state: string; rejected: number }[]
  totals: { requests: number; successes: number; failures: number; rejected: number }
}

describe.each(WORKING)('in a %s', (_name, script, type) => {
  it('an open breaker refuses without a request; once the browser stops the worker and starts it again, it is closed: the next call reaches the upstream', async () => {
    const { page } = await controlledPage(script, type)
    // Three 503s (no copy of this URL: each is answered as it came) open the breaker.
    upstream.failing = true
    for (let i = 0; i < 3; i++) expect(await get(page, '/api/flaky')).toMatchObject({ status: 503, source: null })
    expect(upstream.hits.get('/api/flaky')).toBe(3)
    expect(await ask(page, 'snapshot')).toMatchObject({ breakers: [{ key: upstream.origin, state: 'open', rejected: 0 }] })

    // The upstream is back, but the open breaker refuses at once (60 s open): nothing reaches the upstream.
    upstream.failing = false
    const refused = await get(page, '/api/flaky')
    expect(refused).toMatchObject({ status: 504, source: null })
    expect(JSON.parse(refused.body)).toMatchObject({ name: 'CircuitOpenError' })
    expect(upstream.hits.get('/api/flaky')).toBe(3)
    expect(await ask(page, 'snapshot')).toMatchObject({ breakers: [{ state: 'open', rejected: 1 }], totals: { requests: 4 } })

    // As the browser does to an idle Service Worker: stopped, its memory gone; the page's next request starts it again.
    await stopWorkers(page)
    expect(await get(page, '/api/flaky')).toMatchObject({ status: 200, source: null, body: JSON.stringify({ path: '/api/flaky', hit: 4 }) })
    expect(upstream.hits.get('/api/flaky')).toBe(4)
    // A new life (it counts only the call it just answered), whose breaker starts closed.
    const snapshot = (await ask(page, 'snapshot')) as Snapshot
    expect(snapshot).toMatchObject({ breakers: [{ key: upstream.origin, state: 'closed', rejected: 0 }], totals: { requests: 1, successes: 1, failures: 0 } })
    expect(await ask(page, 'events')).toEqual([])
  })
})
