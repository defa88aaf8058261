/**
 * README "Latency you can see": what counts as a sample, the 128-sample ring, `snapshot().latencies` and what
 * `toPrometheus` adds, held against a real node:http server on 127.0.0.1 (Node's own fetch, real sockets).
 * Nothing here asserts a duration: only counts, which attempts were samples, and the shape of the figures.
 */
import { describe, expect, it } from 'vitest'
import { ThrottledError, createResilientFetch } from '../src/index.js'
import { toPrometheus } from '../src/metrics/prometheus.js'
import { tailServerEachTest } from './tail-server.js'

const { held, start } = tailServerEachTest()

/** /ok: 200; /bad: 503; /reset: the socket is destroyed (no headers); /hang: held until the test ends. */
async function server4() {
  return start((req, res) => {
    if (req.url!.startsWith('/reset')) return void req.socket.destroy()
    if (req.url!.startsWith('/hang')) return void held.push(res)
    res.writeHead(req.url!.startsWith('/bad') ? 503 : 200).end('x')
  })
}

const samplesOf = (rf: ReturnType<typeof createResilientFetch>) => rf.snapshot().latencies.map(({ key, samples, count }) => ({ key, samples, count }))

describe('attempt latency against a real server on 127.0.0.1', () => {
  it('is kept with everything else off; a response is a sample (a 503 too), a reset connection, a timeout and an abort are not', async () => {
    const s = await server4()
    // No deadline but the one the timed-out call sets itself: a slow moment must not time out a call that must answer, or the abort.
    const rf = createResilientFetch({ retry: false, fallback: false, breaker: false, bulkhead: false, timeout: false })
    await (await rf(`${s.origin}/ok`)).text()
    await (await rf(`${s.origin}/bad`)).text()
    await expect(rf(`${s.origin}/reset`)).rejects.toThrow(TypeError)
    await expect(rf(`${s.origin}/hang`, { resilience: { timeout: { attempt: 300, total: 1_000 } } })).rejects.toMatchObject({ name: 'TimeoutError' })
    const controller = new AbortController()
    const aborted = rf(`${s.origin}/hang`, { signal: controller.signal })
    await s.received(5)
    controller.abort(new Error('left'))
    await expect(aborted).rejects.toThrow('left')
    expect(s.seen.map((x) => x.path)).toEqual(['/ok', '/bad', '/reset', '/hang', '/hang'])
    expect(samplesOf(rf)).toEqual([{ key: s.origin, samples: 2, count: 2 }])
  })

  it('keeps the last 128 durations per key, and counts every one: 130 calls give 128 samples, count 130', async () => {
    const s = await server4()
    const rf = createResilientFetch({ retry: false, fallback: false })
    for (let i = 0; i < 130; i++) await (await rf(`${s.origin}/ok`)).text()
    const [figures] = rf.snapshot().latencies
    expect(figures).toMatchObject({ key: s.origin, samples: 128, count: 130 })
    expect(figures!.p50).toBeLessThanOrEqual(figures!.p90)
    expect(figures!.p90).toBeLessThanOrEqual(figures!.p99)
    expect(figures!.sum).toBeGreaterThan(0)
    // Cumulative buckets by upper bound, the last at most the count; one count per bound.
    expect(figures!.buckets).toHaveLength(figures!.le.length)
    expect(figures!.buckets).toEqual([...figures!.buckets].sort((a, b) => a - b))
    expect(figures!.buckets.at(-1)!).toBeLessThanOrEqual(130)
  }, 30_000) // many real requests: slow on a loaded machine, and no figure here is a time

  it('a key of its own per key: two keys, two summaries', async () => {
    const s = await server4()
    const rf = createResilientFetch({ retry: false, fallback: false, key: (req) => new URL(req.url).pathname })
    for (let i = 0; i < 3; i++) await (await rf(`${s.origin}/ok`)).text()
    await (await rf(`${s.origin}/bad`)).text()
    expect(samplesOf(rf).sort((a, b) => a.key.localeCompare(b.key))).toEqual([
      { key: '/bad', samples: 1, count: 1 },
      { key: '/ok', samples: 3, count: 3 },
    ])
  })

  it('toPrometheus: the attempt duration histogram per key and the hedges, throttled and coalesced counters of a live instance', async () => {
    const s = await server4()
    const rf = createResilientFetch({
      retry: false,
      fallback: false,
      breaker: false,
      coalesce: true,
      hedge: { delay: 25, budget: false },
      throttle: {},
      key: (req) => new URL(req.url).pathname.split('/')[1]!,
    })
    // A hedge: /hang/1 never answers, so its hedge is sent; the caller gives up by aborting.
    const hedged = new AbortController()
    const hang = rf(`${s.origin}/hang/1`, { signal: hedged.signal }).catch(() => {})
    await s.received(2)
    hedged.abort()
    await hang
    // Not hedged (a slow moment of a loaded machine would add a hedge to the count).
    const once = { resilience: { hedge: false } }
    // Coalesced: three identical GETs of /ok, two of which join the first.
    await Promise.all(Array.from({ length: 3 }, () => rf(`${s.origin}/ok/1`, once)).map(async (p) => (await p).text()))
    // Throttled: a failing key is shed before long (p reaches 0.9; fewer than one shed in 100 calls has odds below 1e-20).
    let throttled = 0
    for (let i = 0; i < 100 && throttled === 0; i++) {
      try {
        await (await rf(`${s.origin}/bad/1`, once)).text()
      } catch (error) {
        if (!(error instanceof ThrottledError)) throw error
        throttled++
      }
    }
    const { totals, latencies } = rf.snapshot()
    expect([totals.hedges, totals.coalesced, totals.throttled]).toEqual([1, 2, 1])
    const text = toPrometheus(rf.snapshot())
    const sample = (line: string) => Number(text.split('\n').find((l) => l.startsWith(`${line} `))?.slice(line.length + 1))
    expect(sample('resilient_fetch_hedges_total')).toBe(1)
    expect(sample('resilient_fetch_coalesced_total')).toBe(2)
    expect(sample('resilient_fetch_throttled_total')).toBe(1)
    // One histogram per key that had a response: ok (one request for three callers) and bad (the calls that reached it); hang had none.
    expect(latencies.map((l) => l.key).sort()).toEqual(['bad', 'ok'])
    for (const l of latencies) {
      expect(sample(`resilient_fetch_attempt_duration_seconds_count{key="${l.key}"}`)).toBe(l.count)
      expect(sample(`resilient_fetch_attempt_duration_seconds_bucket{key="${l.key}",le="+Inf"}`)).toBe(l.count)
    }
    expect(text).not.toContain('attempt_duration_seconds_count{key="hang"}')
    expect(latencies.find((l) => l.key === 'ok')!.count).toBe(1)
  }, 30_000) // many real requests: slow on a loaded machine, and no figure here is a time
})
