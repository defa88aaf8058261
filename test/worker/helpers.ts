import { afterEach, beforeEach, vi } from 'vitest'
import { createProxy, type ProxyConfig, type ProxyHandler } from '../../src/worker/index.js'

export const ORIGIN = 'http://upstream.test'
export const PROXY = 'http://proxy.test'

/** A controllable upstream: records every request the proxy sends and answers through `answer`. */
export function fakeUpstream(answer: (request: Request) => Response | Promise<Response> = () => Response.json({ ok: true })) {
  const seen: Request[] = []
  let active = 0
  let maxActive = 0
  const fetch = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const request = new Request(input, init)
    seen.push(request)
    active++
    maxActive = Math.max(maxActive, active)
    try {
      return await answer(request)
    } finally {
      active--
    }
  }
  return {
    fetch: fetch as typeof globalThis.fetch,
    seen,
    get active() {
      return active
    },
    get maxActive() {
      return maxActive
    },
  }
}

/** A Worker ExecutionContext whose background work the test can wait for. */
export function context() {
  const pending: Promise<unknown>[] = []
  return {
    waitUntil(promise: Promise<unknown>) {
      pending.push(promise)
    },
    async settle() {
      while (pending.length > 0) await Promise.allSettled(pending.splice(0))
    },
  }
}

/** One call with its own ctx: its status (or error name) once what it handed to waitUntil (a fleet report) has settled. */
export async function callSettled(rf: (input: string, init?: { resilience?: { waitUntil?: (p: Promise<unknown>) => void } }) => Promise<Response>, url: string): Promise<number | string> {
  const ctx = context()
  const status = await rf(url, { resilience: { waitUntil: (p) => ctx.waitUntil(p) } }).then(
    (r) => r.status,
    (e: Error) => e.name,
  )
  await ctx.settle()
  return status
}

export function proxy(config: ProxyConfig): ProxyHandler {
  return createProxy({ upstream: ORIGIN, store: 'memory', ...config })
}

export function get(path: string, init?: RequestInit): Request {
  return new Request(PROXY + path, init)
}

/** A promise the test resolves by hand, for an upstream that answers when told. */
export function deferred<T>() {
  let resolve!: (value: T) => void
  const promise = new Promise<T>((r) => (resolve = r))
  return { promise, resolve }
}

/** Lets queued microtasks and zero-delay timers run, a bounded number of times, until `done()`. */
export async function until(done: () => boolean, turns = 200): Promise<void> {
  for (let i = 0; i < turns && !done(); i++) await new Promise((r) => setTimeout(r, 0))
  if (!done()) throw new Error('condition not reached')
}

export async function snapshotOf(handler: ProxyHandler, headers?: HeadersInit) {
  const response = await handler(get('/metrics.json', { headers }))
  return (await response.json()) as import('../../src/types.js').ResilienceSnapshot
}

/** Each test of the suite on fake time from `now`, with the proxy's log lines kept out of the output. */
export function quietFakeTime(now = 1_000_000): void {
  beforeEach(() => {
    vi.useFakeTimers({ now })
    vi.spyOn(console, 'log').mockImplementation(() => {})
  })
  afterEach(() => {
    vi.useRealTimers()
    vi.restoreAllMocks()
  })
}
