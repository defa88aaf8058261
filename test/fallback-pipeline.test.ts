import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { CircuitOpenError, createResilientFetch, memoryStore, resilienceInfo, type FallbackStore, type ResilientFetchOptions, type StoredResponse } from '../src/index.js'
import { controlledTransport, flush, statusTransport } from './helpers.js'

const URL_A = 'https://a.test/data?x=1'
const URL_B = 'https://a.test/data?x=2'

beforeEach(() => {
  vi.useFakeTimers({ now: 1_000_000 })
})
afterEach(() => {
  vi.useRealTimers()
})

/** A store whose writes the test can watch. */
function watchedStore() {
  const inner = memoryStore()
  const puts: string[] = []
  const store: FallbackStore = {
    get: (k) => inner.get(k),
    put: async (k, e) => {
      puts.push(k)
      await inner.put(k, e)
    },
    delete: (k) => inner.delete(k),
    clear: () => inner.clear(),
  }
  return { store, puts }
}

function make(fetch: typeof globalThis.fetch, options: ResilientFetchOptions = {}) {
  const { store, puts } = watchedStore()
  const rf = createResilientFetch({
    fetch,
    retry: false,
    timeout: false,
    breaker: { failureThreshold: 100 },
    ...options,
    fallback: { store, ...(options.fallback || {}) },
  })
  const fallbacks: number[] = []
  rf.addEventListener('fallback', (e) => fallbacks.push(e.detail.age))
  return { rf, puts, store, fallbacks }
}

/** Answers with a JSON body and `ok` status first, then whatever `later` says. */
function okThen(later: number | Error | 'hang', headers: HeadersInit = {}) {
  let n = 0
  return vi.fn(async (_input: RequestInfo | URL, init?: RequestInit) => {
    if (n++ === 0) return new Response('{"fresh":true}', { status: 200, headers: { 'content-type': 'application/json', ...headers } })
    if (later instanceof Error) throw later
    if (later === 'hang') return new Promise<Response>((_, reject) => init?.signal?.addEventListener('abort', () => reject(init.signal!.reason)))
    return new Response('down', { status: later })
  }) as unknown as typeof globalThis.fetch
}

/** A store whose reads and writes always fail. */
function brokenStore(): FallbackStore {
  const gone = async (): Promise<never> => {
    throw new Error('disk gone')
  }
  return { get: gone, put: gone, delete: async () => {}, clear: async () => {} }
}

async function primed(fetch: typeof globalThis.fetch, options: ResilientFetchOptions = {}) {
  const made = make(fetch, options)
  const first = await made.rf(URL_A)
  expect(await first.json()).toEqual({ fresh: true })
  // The stage's own chunk may still be loading for the first response: the write lands when it is here.
  await vi.waitFor(() => expect(made.puts).toEqual([`GET ${URL_A}`]))
  return made
}

describe('the fallback stage', () => {
  it('serves the last good copy for a failure status, marked, with Age and resilienceInfo', async () => {
    const { rf, fallbacks } = await primed(okThen(500))
    vi.advanceTimersByTime(5_000)
    const response = await rf(URL_A)
    expect(response.status).toBe(200)
    expect(await response.json()).toEqual({ fresh: true })
    expect(response.headers.get('x-resilient-source')).toBe('fallback')
    expect(response.headers.get('age')).toBe('5')
    expect(response.headers.get('content-type')).toBe('application/json')
    // The URL it answers for, as fetch's own response has it.
    expect(response.url).toBe(URL_A)
    expect(resilienceInfo(response)).toEqual({ source: 'fallback', key: 'https://a.test', attempts: 1, storedAt: 1_000_000 })
    expect(fallbacks).toEqual([5])
    expect(rf.snapshot().totals).toMatchObject({ requests: 2, successes: 1, failures: 1, fallbacks: 1 })
  })

  it('serves it for a network error, an attempt timeout, an open breaker and a full bulkhead', async () => {
    const network = await primed(okThen(new TypeError('fetch failed')))
    expect((await network.rf(URL_A)).headers.get('x-resilient-source')).toBe('fallback')

    const slow = await primed(okThen('hang'), { timeout: 50 })
    const p = slow.rf(URL_A)
    await vi.advanceTimersByTimeAsync(50)
    expect((await p).headers.get('x-resilient-source')).toBe('fallback')

    const open = await primed(okThen(200))
    open.rf.breaker('https://a.test')!.open()
    await expect(open.rf(URL_A, { resilience: { fallback: false } })).rejects.toBeInstanceOf(CircuitOpenError)
    expect((await open.rf(URL_A)).headers.get('x-resilient-source')).toBe('fallback')

    const c = controlledTransport()
    const full = make(c.fetch, { bulkhead: { maxConcurrent: 1, maxQueue: 0 } })
    const first = full.rf(URL_A)
    await flush()
    c.pending[0]!.respond(200, undefined, 'good')
    await (await first).text()
    await vi.waitFor(() => expect(full.puts).toHaveLength(1))
    const hold = full.rf(URL_A)
    await flush()
    const rejected = await full.rf(URL_A)
    expect(rejected.headers.get('x-resilient-source')).toBe('fallback')
    expect(await rejected.text()).toBe('good')
    c.pending[0]!.respond(200)
    await hold
  })

  it('coalesced calls served the copy each count in totals.fallbacks; the fallback event fires once for the shared call', async () => {
    const c = controlledTransport()
    const { rf, fallbacks } = make(c.fetch, { coalesce: true })
    const first = rf(URL_A)
    await vi.waitFor(() => expect(c.pending).toHaveLength(1))
    c.pending[0]!.respond(200, undefined, 'good')
    await (await first).text()
    await vi.waitFor(() => expect(rf.snapshot().totals.successes).toBe(1))
    await vi.advanceTimersByTimeAsync(2_000)
    const calls = [rf(URL_A), rf(URL_A), rf(URL_A)]
    await vi.waitFor(() => expect(c.pending).toHaveLength(1))
    c.pending[0]!.respond(503)
    const responses = await Promise.all(calls)
    expect(await Promise.all(responses.map((r) => r.text()))).toEqual(['good', 'good', 'good'])
    expect(responses.map((r) => resilienceInfo(r)?.source)).toEqual(['fallback', 'fallback', 'fallback'])
    expect(fallbacks).toEqual([2])
    // One per rf() (API.md), like the other totals: three calls answered from the store.
    expect(rf.snapshot().totals).toMatchObject({ requests: 4, coalesced: 2, successes: 1, failures: 3, fallbacks: 3 })
  })

  it('without a copy the failure surfaces unchanged', async () => {
    const { rf } = make(statusTransport(503).fetch)
    const response = await rf(URL_A)
    expect(response.status).toBe(503)
    expect(response.headers.get('x-resilient-source')).toBeNull()
    const err = make(statusTransport(new TypeError('fetch failed')).fetch)
    await expect(err.rf(URL_A)).rejects.toBeInstanceOf(TypeError)
  })

  it('a copy older than maxAge is not served', async () => {
    const { rf } = await primed(okThen(500), { fallback: { maxAge: 10_000 } })
    vi.advanceTimersByTime(10_001)
    expect((await rf(URL_A)).status).toBe(500)
  })

  it('the caller never waits for the store: the response is returned before put is called', async () => {
    const { store, puts } = watchedStore()
    const rf = createResilientFetch({ fetch: okThen(200), fallback: { store }, retry: false })
    const response = await rf(URL_A)
    expect(response.status).toBe(200)
    expect(puts).toEqual([])
    await vi.waitFor(() => expect(puts).toEqual([`GET ${URL_A}`]))
    // the caller's body is intact
    expect(await response.json()).toEqual({ fresh: true })
  })

  it('hands the background write to waitUntil when given', async () => {
    const { rf } = make(okThen(200))
    const waitUntil = vi.fn()
    await rf(URL_A, { resilience: { waitUntil } })
    expect(waitUntil).toHaveBeenCalledTimes(1)
    expect(waitUntil.mock.calls[0]![0]).toBeInstanceOf(Promise)
  })

  it('per-call fallback: false neither stores nor serves', async () => {
    const { rf, puts } = make(okThen(500))
    await rf(URL_A, { resilience: { fallback: false } })
    await vi.advanceTimersByTimeAsync(0)
    expect(puts).toEqual([])
  })

  it('the store key ignores the fragment but not the query', async () => {
    const { rf, puts } = make(okThen(500))
    expect((await rf(`${URL_A}#top`)).status).toBe(200)
    await vi.waitFor(() => expect(puts).toEqual([`GET ${URL_A}`]))
    expect((await rf(`${URL_A}#bottom`)).headers.get('x-resilient-source')).toBe('fallback')
    const other = await rf(URL_A.replace('x=1', 'x=2'))
    expect([other.status, other.headers.has('x-resilient-source')]).toEqual([500, false])
  })

  it.each([201, 203, 204, 206, 301, 304, 404, 500, 503])('only a 200 is stored: a %i is not', async (status) => {
    let calls = 0
    const { rf, puts } = make(async () => (calls++ === 0 ? new Response(status === 204 || status === 304 ? null : 'x', { status }) : new Response('ok')))
    expect((await rf(URL_A)).status).toBe(status)
    // A 200 of another URL after it is stored: the chunk was there for the first.
    await rf(URL_B)
    await vi.waitFor(() => expect(puts).toEqual([`GET ${URL_B}`]))
  })

  it.each(['POST', 'PUT', 'DELETE', 'HEAD', 'PATCH'])('only GET is stored or served: a %s is neither', async (method) => {
    const fresh = make(async () => new Response(method === 'HEAD' ? null : 'ok'))
    expect((await fresh.rf(URL_A, { method })).status).toBe(200)
    // A GET of another URL after it is stored: the chunk was there for the first.
    await fresh.rf(URL_B)
    await vi.waitFor(() => expect(fresh.puts).toEqual([`GET ${URL_B}`]))
    const { rf } = await primed(okThen(500))
    const failed = await rf(URL_A, { method })
    expect(failed.status).toBe(500)
    expect(failed.headers.has('x-resilient-source')).toBe(false)
  })

  it('a user abort is never answered from the store', async () => {
    const { rf } = await primed(okThen('hang'))
    const controller = new AbortController()
    const p = rf(URL_A, { signal: controller.signal }).catch((e) => e)
    await flush()
    controller.abort('gone')
    expect(await p).toBe('gone')
  })

  it("never answers the caller's own mistakes: a request fetch refuses to build, an isFailure that throws", async () => {
    // fetch builds its Request first, as every runtime's does: a GET with a body is refused there.
    const strict = okThen(200)
    const { rf } = await primed(((input: RequestInfo | URL, init?: RequestInit) => (new Request(input, init), strict(input, init))) as typeof globalThis.fetch)
    await expect(rf(URL_A, { method: 'GET', body: 'oops' })).rejects.toBeInstanceOf(TypeError)

    const bug = new Error('isFailure has a bug')
    const judged = await primed(okThen(503), {
      isFailure: ({ response }) => {
        if (response?.status === 503) throw bug
        return false
      },
    })
    await expect(judged.rf(URL_A)).rejects.toBe(bug)
    expect(judged.rf.snapshot().totals.fallbacks).toBe(0)
  })

  it('rf.clear() empties the store (logout)', async () => {
    const { rf } = await primed(okThen(500))
    await rf.clear()
    expect((await rf(URL_A)).status).toBe(500)
  })

  it('a store that fails never fails the call; it emits storeerror', async () => {
    const rf = createResilientFetch({ fetch: okThen(500), retry: false, fallback: { store: brokenStore() } })
    const errors: unknown[] = []
    rf.addEventListener('storeerror', (e) => errors.push(e.detail.error))
    expect((await rf(URL_A)).status).toBe(200)
    await vi.waitFor(() => expect(errors).toHaveLength(1))
    expect((await rf(URL_A)).status).toBe(500)
    expect(errors).toHaveLength(2)
  })

  it("a store's failure names the call's own key, as the call's other events do", async () => {
    const rf = createResilientFetch({ fetch: okThen(500), retry: false, key: () => 'users-api', fallback: { store: brokenStore() } })
    const keys: { type: string; key: string }[] = []
    for (const type of ['success', 'failure', 'storeerror'] as const) rf.addEventListener(type, (e) => keys.push({ type, key: e.detail.key }))
    await rf(URL_A)
    await vi.waitFor(() => expect(keys.some((k) => k.type === 'storeerror')).toBe(true))
    await rf(URL_A, { resilience: { key: 'per-call' } })
    expect(keys).toEqual([
      { type: 'success', key: 'users-api' },
      { type: 'storeerror', key: 'users-api' },
      { type: 'failure', key: 'per-call' },
      { type: 'storeerror', key: 'per-call' },
    ])
  })

  it('fallback: false at creation turns the stage off', async () => {
    const rf = createResilientFetch({ fetch: okThen(500), retry: false, fallback: false })
    await rf(URL_A)
    expect((await rf(URL_A)).status).toBe(500)
  })

  it('the stored entry keeps bytes and headers, never Set-Cookie', async () => {
    const saved: StoredResponse[] = []
    const store: FallbackStore = { get: async () => undefined, put: async (_k, e) => void saved.push(e), delete: async () => {}, clear: async () => {} }
    const rf = createResilientFetch({ fetch: okThen(200, { 'set-cookie': 'sid=1', 'x-a': 'b' }), retry: false, fallback: { store, private: true } })
    await rf(URL_A)
    await vi.waitFor(() => expect(saved).toHaveLength(1))
    expect(saved[0]!.headers.some(([name]) => name.toLowerCase() === 'set-cookie')).toBe(false)
    expect(new TextDecoder().decode(saved[0]!.body)).toBe('{"fresh":true}')
  })

  it("a request with fetch's cache: 'no-store' (on the init or on the Request) is never stored", async () => {
    const { rf, puts } = make(okThen(200))
    await (await rf(URL_A, { cache: 'no-store' })).text()
    await (await rf(new Request(URL_A, { cache: 'no-store' }))).text()
    await vi.advanceTimersByTimeAsync(0)
    expect(puts).toEqual([])
    // The init's mode wins over the Request's, as in fetch.
    await (await rf(new Request(URL_A, { cache: 'no-store' }), { cache: 'default' })).text()
    await vi.waitFor(() => expect(puts).toEqual([`GET ${URL_A}`]))
  })

  it('a response to a call that started before rf.clear() is never stored, though it arrives after (logout)', async () => {
    const c = controlledTransport()
    const { rf, puts } = make(c.fetch)
    const before = rf(URL_A, { headers: { 'x-user': 'alice' } })
    await flush()
    await rf.clear()
    c.pending[0]!.respond(200, undefined, 'alice')
    expect(await (await before).text()).toBe('alice')
    await vi.advanceTimersByTimeAsync(1_000)
    expect(puts).toEqual([])
    const next = rf(URL_A)
    await flush()
    c.pending[0]!.respond(503)
    expect((await next).status).toBe(503)
  })

  it('a failure right after the first good response is answered with its copy, while the write is still in flight', async () => {
    let release!: () => void
    const inner = memoryStore()
    const store: FallbackStore = {
      get: (k) => inner.get(k),
      put: async (k, e) => {
        await new Promise<void>((resolve) => (release = resolve))
        await inner.put(k, e)
      },
      delete: (k) => inner.delete(k),
      clear: () => inner.clear(),
    }
    const rf = createResilientFetch({ fetch: okThen(500), retry: false, timeout: false, fallback: { store } })
    expect(await (await rf(URL_A)).json()).toEqual({ fresh: true })
    const failed = await rf(URL_A)
    expect(failed.headers.get('x-resilient-source')).toBe('fallback')
    expect(await failed.json()).toEqual({ fresh: true })
    release?.()
  })

  describe('a store that never settles never hangs a call', () => {
    function hung(): FallbackStore {
      return { get: () => new Promise(() => {}), put: () => new Promise(() => {}), delete: async () => {}, clear: async () => {} }
    }

    function watch(promise: Promise<unknown>) {
      const state: { done: boolean; outcome?: unknown } = { done: false }
      promise.then(
        (value) => Object.assign(state, { done: true, outcome: value }),
        (error: unknown) => Object.assign(state, { done: true, outcome: error }),
      )
      return state
    }

    it("a failed GET ends by the call's total deadline, with its own failure and a storeerror", async () => {
      const rf = createResilientFetch({ fetch: statusTransport(new TypeError('fetch failed')).fetch, retry: false, timeout: { attempt: 100, total: 400 }, fallback: { store: hung() } })
      const errors: unknown[] = []
      rf.addEventListener('storeerror', (e) => errors.push(e.detail.error))
      const call = watch(rf(URL_A))
      await vi.advanceTimersByTimeAsync(399)
      expect(call.done).toBe(false)
      await vi.advanceTimersByTimeAsync(1)
      expect(call.done).toBe(true)
      expect(call.outcome).toBeInstanceOf(TypeError)
      expect(errors).toHaveLength(1)
    })

    it("a failed GET ends at once when the caller aborts, with the caller's reason", async () => {
      const rf = createResilientFetch({ fetch: statusTransport(503).fetch, retry: false, timeout: false, fallback: { store: hung() } })
      const controller = new AbortController()
      const call = watch(rf(URL_A, { signal: controller.signal }))
      await vi.advanceTimersByTimeAsync(10)
      expect(call.done).toBe(false)
      controller.abort('gone')
      await vi.advanceTimersByTimeAsync(0)
      expect(call).toEqual({ done: true, outcome: 'gone' })
    })

    it('every GET refused by an open breaker ends within 1 s', async () => {
      const rf = createResilientFetch({ fetch: statusTransport(200).fetch, retry: false, timeout: false, fallback: { store: hung() } })
      await (await rf(URL_A, { resilience: { fallback: false } })).text()
      rf.breaker('https://a.test')!.open()
      const call = watch(rf(URL_A))
      await vi.advanceTimersByTimeAsync(1_000)
      expect(call.done).toBe(true)
      expect(call.outcome).toBeInstanceOf(CircuitOpenError)
    })

    it('rf.clear() resolves while a put hangs', async () => {
      const rf = createResilientFetch({ fetch: statusTransport(200).fetch, retry: false, timeout: false, fallback: { store: hung() } })
      await (await rf(URL_A)).text()
      await vi.advanceTimersByTimeAsync(10)
      const cleared = watch(rf.clear())
      await vi.advanceTimersByTimeAsync(0)
      expect(cleared).toEqual({ done: true, outcome: undefined })
    })
  })
})
