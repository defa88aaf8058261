import { runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test'
import { env } from 'cloudflare:workers'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { BreakerCoordinator, type CoordinatorContext } from '../../src/worker/coordinator.js'
import { createProxy, type CoordinatorNamespace, type ProxyConfig, type ProxyHandler } from '../../src/worker/index.js'
import { context, deferred, fakeUpstream, get, snapshotOf, until } from './helpers.js'

const BREAKERS = env.BREAKERS as CoordinatorNamespace & { idFromName(name: string): unknown; get(id: unknown): unknown }
let origins = 0

/**
 * A new isolate: the library loaded afresh, with module state of its own, its fleet reporter id among it. Proxies made on one
 * module are one isolate, which the object counts once toward minReporters.
 */
async function isolate(): Promise<typeof createProxy> {
  vi.resetModules()
  return (await import('../../src/worker/index.js')).createProxy
}

/** `size` isolates, a proxy in each; a fresh origin per test, so each test has its own Durable Object. */
async function fleetOf(size: number, config: ProxyConfig & { upstream: string }): Promise<ProxyHandler[]> {
  const fleet: ProxyHandler[] = []
  for (let i = 0; i < size; i++) fleet.push((await isolate())({ store: 'memory', coordinator: BREAKERS, ...config }))
  return fleet
}

/** The key's object, and its fleet breaker as it stands. */
function objectOf(origin: string) {
  const stub = BREAKERS.get(BREAKERS.idFromName(origin))
  return {
    stub,
    fleet: () => runInDurableObject(stub, (instance: BreakerCoordinator) => instance.fleet?.snapshot()),
  }
}

/** One request through `handler` with its own ctx; background reports are settled before it returns. */
async function request(handler: ProxyHandler, path = '/api/x'): Promise<{ status: number; error?: string }> {
  const ctx = context()
  const response = await handler(get(path), {}, ctx)
  const body = response.headers.get('content-type')?.includes('json') ? ((await response.json()) as { error?: string }) : (await response.text(), {})
  await ctx.settle()
  return { status: response.status, error: body.error }
}

const stateOf = async (handler: ProxyHandler) => (await snapshotOf(handler)).breakers[0]?.state

afterEach(() => {
  vi.useRealTimers()
})

describe('one breaker per upstream across isolates (BreakerCoordinator)', () => {
  it('opens on the fleet’s combined failures: three isolates with 2 failures each, threshold 6', async () => {
    const origin = `http://fleet-${++origins}.test`
    const upstream = fakeUpstream(() => new Response('down', { status: 500 }))
    const fleet = await fleetOf(3, { upstream: origin, fetch: upstream.fetch, failureThreshold: 6, openDuration: 60_000 })
    // The dashboard's live view of isolate A, opened before anything happens.
    const events = await fleet[0](get('/events'))
    const reader = events.body!.getReader()
    for (const handler of fleet) {
      expect(await request(handler)).toEqual({ status: 503, error: 'upstream_error' })
      expect(await request(handler)).toEqual({ status: 503, error: 'upstream_error' })
    }
    const object = objectOf(origin)
    const opened = (await object.fleet())!
    expect(opened.state).toBe('open')
    // The alarm ends the open window; an evicted object resumes from its storage.
    await runInDurableObject(object.stub, async (_instance: BreakerCoordinator, state) => {
      const ctx = state as CoordinatorContext
      expect(await ctx.storage.getAlarm()).toBe(opened.openUntil)
      const resumed = new BreakerCoordinator(ctx)
      await ctx.blockConcurrencyWhile(async () => {})
      expect(resumed.fleet?.snapshot()).toEqual(opened)
    })
    // Alone, each isolate is below its threshold; the last reporter heard the fleet open at once.
    expect(await Promise.all(fleet.map(stateOf))).toEqual(['closed', 'closed', 'open'])
    // The others hear it with their next report.
    await request(fleet[0])
    await request(fleet[1])
    expect(await Promise.all(fleet.map(stateOf))).toEqual(['open', 'open', 'open'])
    for (const handler of fleet) expect(await request(handler)).toEqual({ status: 503, error: 'circuit_open' })
    expect(upstream.seen).toHaveLength(8)
    // The state applied from the object reached isolate A's /events as a statechange.
    let text = ''
    const decoder = new TextDecoder()
    for (let i = 0; i < 20 && !text.includes('event: statechange'); i++) text += decoder.decode((await reader.read()).value)
    await reader.cancel()
    expect(text).toMatch(new RegExp(`event: statechange\\ndata: \\{"key":"${origin}","from":"closed","to":"open"`))
  })

  it('after the alarm, exactly one probe (halfOpen.probes) crosses the fleet; its success closes every isolate', async () => {
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() })
    const origin = `http://fleet-${++origins}.test`
    let healthy = false
    const gate = deferred<void>()
    const upstream = fakeUpstream(() => (healthy ? gate.promise.then(() => Response.json({ ok: true })) : new Response('down', { status: 500 })))
    const fleet = await fleetOf(3, { upstream: origin, fetch: upstream.fetch, failureThreshold: 3, openDuration: 10_000 })
    for (const handler of fleet) await request(handler)
    vi.advanceTimersByTime(2_000)
    await request(fleet[0])
    await request(fleet[1])
    expect(await Promise.all(fleet.map(stateOf))).toEqual(['open', 'open', 'open'])
    const object = objectOf(origin)
    const opened = (await object.fleet())!
    expect(opened.state).toBe('open')

    vi.setSystemTime(opened.openUntil)
    expect(await runDurableObjectAlarm(object.stub)).toBe(true)
    expect((await object.fleet())?.state).toBe('half-open')
    healthy = true
    const results: ({ status: number; error?: string } | undefined)[] = [undefined, undefined, undefined]
    const calls = fleet.map((handler, i) => request(handler).then((r) => (results[i] = r)))
    // One permit for the fleet: whichever isolate asked first probes, the others are refused while it is out.
    await until(() => upstream.seen.length === 6 && results.filter(Boolean).length === 2, 5_000)
    expect(results.filter(Boolean)).toEqual([
      { status: 503, error: 'circuit_open' },
      { status: 503, error: 'circuit_open' },
    ])
    expect((await object.fleet())?.permits).toHaveLength(1)
    gate.resolve()
    await Promise.all(calls)
    expect(results.filter((r) => r!.status === 200)).toHaveLength(1)
    expect((await object.fleet())?.state).toBe('closed')
    expect(upstream.seen).toHaveLength(6)
    // The refused isolates hear the close when they next ask (refusals are remembered syncInterval, 2 s, at most).
    vi.advanceTimersByTime(2_000)
    for (const handler of fleet) expect((await request(handler)).status).toBe(200)
    expect(await Promise.all(fleet.map(stateOf))).toEqual(['closed', 'closed', 'closed'])
  })

  it('a coordinator that throws or hangs leaves each isolate on its own breaker, and requests still succeed', async () => {
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() })
    const throwing: CoordinatorNamespace = {
      idFromName: () => {
        throw new Error('binding unavailable')
      },
      get: (() => ({})) as never,
    }
    const hanging: CoordinatorNamespace = { idFromName: (name) => name, get: (() => ({ fetch: () => new Promise<Response>(() => {}) })) as never }
    for (const coordinator of [throwing, hanging]) {
      const origin = `http://fleet-${++origins}.test`
      let down = false
      const upstream = fakeUpstream(() => (down ? new Response('down', { status: 500 }) : Response.json({ ok: true })))
      const handler = createProxy({ upstream: origin, store: 'memory', fetch: upstream.fetch, coordinator, failureThreshold: 2, openDuration: 1_000 })
      const ctx = context()
      // Another URL than the failing one, whose copy would be served as the fallback.
      expect((await handler(get('/api/warm'), {}, ctx)).status).toBe(200)
      down = true
      expect((await handler(get('/api/x'), {}, ctx)).status).toBe(503)
      expect((await handler(get('/api/x'), {}, ctx)).status).toBe(503)
      expect(await stateOf(handler)).toBe('open')
      expect(await request(handler)).toEqual({ status: 503, error: 'circuit_open' })
      // The local open window ends; the local probe goes through (after the coordinator's timeout at worst).
      down = false
      vi.advanceTimersByTime(1_000)
      expect((await handler(get('/api/x'), {}, ctx)).status).toBe(200)
      expect(await stateOf(handler)).toBe('closed')
      expect(upstream.seen).toHaveLength(4)
      await ctx.settle()
    }
  })

  it('quorum: one isolate failing alone opens only its own breaker; a second failing isolate opens the fleet', async () => {
    const origin = `http://fleet-${++origins}.test`
    // Isolate A is on a bad network path; B and C reach the upstream until it really goes down.
    let down = false
    const bad = fakeUpstream(() => new Response('unreachable', { status: 502 }))
    const good = fakeUpstream(() => (down ? new Response('down', { status: 500 }) : Response.json({ ok: true })))
    const config = { upstream: origin, store: 'memory' as const, coordinator: BREAKERS, failureThreshold: 3, openDuration: 60_000 }
    // Three isolates: the quorum counts isolates, so each is the library loaded afresh.
    const a = (await isolate())({ ...config, fetch: bad.fetch })
    const [b, c] = [(await isolate())({ ...config, fetch: good.fetch }), (await isolate())({ ...config, fetch: good.fetch })]
    for (let i = 0; i < 6; i++) await request(a)
    // A stopped at its own threshold (3 failures reported, 3 refused locally); the fleet stays closed.
    expect(bad.seen).toHaveLength(3)
    expect(await stateOf(a)).toBe('open')
    const object = objectOf(origin)
    expect((await object.fleet())?.state).toBe('closed')
    // Another URL than the failing one, whose copy would be served as the fallback.
    for (const handler of [b, c]) expect(await request(handler, '/api/warm')).toEqual({ status: 200, error: undefined })
    expect(await Promise.all([b, c].map(stateOf))).toEqual(['closed', 'closed'])
    // The upstream goes down for B too: its failures and A's make two reporters, and the fleet opens.
    down = true
    expect(await request(b)).toEqual({ status: 503, error: 'upstream_error' })
    expect((await object.fleet())?.state).toBe('open')
    expect(await stateOf(b)).toBe('open')
    // C hears it with its next report, after one failure of its own, far below its threshold.
    expect(await request(c)).toEqual({ status: 503, error: 'upstream_error' })
    expect(await stateOf(c)).toBe('open')
    expect(await request(c)).toEqual({ status: 503, error: 'circuit_open' })
    expect(good.seen).toHaveLength(4)
  })

  it('a permit answered after the timeout is the probe\'s: its success closes the fleet, and the other isolates are let through', async () => {
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() })
    const origin = `http://fleet-${++origins}.test`
    let healthy = false
    const upstream = fakeUpstream(() => (healthy ? Response.json({ ok: true }) : new Response('down', { status: 500 })))
    // The next permit answer is held back (after the object granted it) until the test lets it go.
    let holding = false
    let letGo: (() => void) | undefined
    const late: CoordinatorNamespace = {
      idFromName: (name) => BREAKERS.idFromName(name),
      get: ((id: unknown) => {
        const stub = BREAKERS.get(id) as { fetch(input: string, init?: RequestInit): Promise<Response> }
        return {
          fetch: async (input: string, init?: RequestInit) => {
            const answer = await stub.fetch(input, init)
            if (holding && (JSON.parse(init!.body as string) as { acquire?: number }).acquire !== undefined) {
              holding = false
              await new Promise<void>((r) => (letGo = r))
            }
            return answer
          },
        }
      }) as never,
    }
    const fleet = await fleetOf(2, { upstream: origin, fetch: upstream.fetch, coordinator: late, failureThreshold: 2, openDuration: 1_000 })
    for (const handler of fleet) await request(handler)
    await request(fleet[0])
    const object = objectOf(origin)
    const opened = (await object.fleet())!
    expect(opened.state).toBe('open')
    vi.setSystemTime(opened.openUntil)
    expect(await runDurableObjectAlarm(object.stub)).toBe(true)
    healthy = true
    holding = true
    const sent = upstream.seen.length
    const probe = request(fleet[0])
    // The isolate gives up on the object after 500 ms and sends its probe anyway; then the permit arrives.
    for (let i = 0; i < 200 && upstream.seen.length === sent; i++) await new Promise((r) => setTimeout(r, 10))
    expect(upstream.seen).toHaveLength(sent + 1)
    expect((await object.fleet())?.permits).toHaveLength(1)
    letGo!()
    expect(await probe).toEqual({ status: 200, error: undefined })
    expect((await object.fleet())?.state).toBe('closed')
    expect((await object.fleet())?.permits).toHaveLength(0)
    for (const handler of fleet) expect((await request(handler)).status).toBe(200)
  })

  it('an upstream that only ever succeeds leaves no storage in its object; one whose failures reach it does', async () => {
    const origin = `http://fleet-${++origins}.test`
    let down = false
    const upstream = fakeUpstream(() => (down ? new Response('down', { status: 500 }) : Response.json({ ok: true })))
    const fleet = await fleetOf(2, { upstream: origin, fetch: upstream.fetch, failureThreshold: 3 })
    for (const handler of fleet) expect((await request(handler)).status).toBe(200)
    const { stub } = objectOf(origin)
    const stored = () => runInDurableObject(stub, (_: BreakerCoordinator, state: unknown) => (state as CoordinatorContext).storage.get('breaker'))
    expect((await objectOf(origin).fleet())?.state).toBe('closed')
    expect(await stored()).toBeUndefined()
    down = true
    await request(fleet[0])
    expect(((await stored()) as { reports: unknown[] } | undefined)?.reports).toHaveLength(1)
  })

  it('the proxy without the binding shares nothing; configFromEnv picks BREAKERS up when present', async () => {
    const { configFromEnv } = await import('../../src/worker/index.js')
    expect(configFromEnv({ UPSTREAM_URL: 'http://a.test' }).coordinator).toBeUndefined()
    expect(configFromEnv({ UPSTREAM_URL: 'http://a.test', BREAKERS }).coordinator).toBe(BREAKERS)
    expect(() => configFromEnv({ UPSTREAM_URL: 'http://a.test', BREAKERS: 'yes' })).toThrow(/BREAKERS must be a Durable Object namespace binding.*got "yes"/)
  })
})
