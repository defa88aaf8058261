/**
 * The attempt (attempt deadline + transport), pinned where mutation testing found its tests silent: what a network
 * error forgiven by isFailure reports, what a stream-bodied request's network error is, and what the transport is
 * handed when no deadline is armed.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { normalizeOptions } from '../src/options.js'
import { transportStage } from '../src/stages/transport.js'
import type { Attempt, Call } from '../src/stages/types.js'
import type { ResilientFetchOptions } from '../src/types.js'
import { testCall, testRuntime } from './stages/helpers.js'

function setup(fetch: typeof globalThis.fetch, options: ResilientFetchOptions = {}) {
  const t = testRuntime(Date.now)
  return { ...t, stage: transportStage(normalizeOptions({ fetch, ...options }), t.runtime) }
}

const attempt = (call: Call): Attempt => ({ call, signal: call.signal, start: Date.now() })

beforeEach(() => void vi.useFakeTimers({ now: 1_000_000 }))
afterEach(() => void vi.useRealTimers())

describe('the attempt, as its outcome and events show it', () => {
  it('a network error that isFailure forgives is still reported as a failure event, with its error and duration', async () => {
    const down = new TypeError('fetch failed')
    const { stage, seen } = setup(async () => Promise.reject(down), { isFailure: () => false })
    expect(await stage.run(attempt(testCall()))).toEqual({ kind: 'error', error: down, failure: false, duration: 0 })
    expect(seen).toEqual([{ type: 'failure', detail: { key: 'https://a.test', error: down, duration: 0 } }])
  })

  it('a response is reported with its key, status and duration, as its outcome', async () => {
    const { stage, seen } = setup(async () => {
      vi.advanceTimersByTime(25)
      return new Response('x', { status: 201 })
    })
    expect(await stage.run(attempt(testCall()))).toMatchObject({ kind: 'response', failure: false, duration: 25 })
    expect(seen).toEqual([{ type: 'success', detail: { key: 'https://a.test', status: 201, duration: 25 } }])
  })

  it("a stream-bodied request whose transport read the body and then failed is a network error, not the caller's mistake", async () => {
    const { stage, seen } = setup(async (_input, init) => {
      // The transport takes the stream (a real fetch locks it as it sends): a new Request could no longer be built from it.
      ;(init!.body as ReadableStream).getReader()
      throw new TypeError('fetch failed')
    })
    const body = new ReadableStream({ start: (c) => c.close() })
    const call = testCall({ method: 'POST', init: { method: 'POST', body, duplex: 'half' } as RequestInit })
    expect(await stage.run(attempt(call))).toMatchObject({ kind: 'error', failure: true })
    expect(seen.map((e) => e.type)).toEqual(['failure'])
  })

  it('with no deadline armed, the transport is handed the caller’s input and init as they are: no copy per attempt', async () => {
    const fetch = vi.fn(async () => new Response('x'))
    const { stage } = setup(fetch)
    const init: RequestInit = { headers: { a: '1' } }
    const caller = new AbortController()
    const calls = [
      testCall({ init }),
      testCall({ init: { ...init, signal: caller.signal }, signal: caller.signal }),
      testCall({ init: undefined }),
    ]
    for (const call of calls) await stage.run(attempt(call))
    expect(fetch.mock.calls[0]).toEqual(['https://a.test/x', init])
    expect((fetch.mock.calls[0] as unknown[])[1]).toBe(init)
    expect((fetch.mock.calls[1] as unknown[])[1]).toBe(calls[1]!.init)
    expect(fetch.mock.calls[2]).toEqual(['https://a.test/x', undefined])
  })

  it('a transport that answers though the caller aborted (it ignored the signal) is judged by its answer: the upstream did answer', async () => {
    let answer!: (response: Response) => void
    const { stage, seen } = setup(() => new Promise<Response>((resolve) => (answer = resolve)))
    const caller = new AbortController()
    const call = testCall({ signal: caller.signal, init: { signal: caller.signal } })
    const outcome = stage.run(attempt(call))
    caller.abort(new Error('gone'))
    answer(new Response('busy', { status: 503 }))
    expect(await outcome).toMatchObject({ kind: 'response', failure: true })
    expect(seen.map((e) => `${e.type}:${e.detail.status}`)).toEqual(['failure:503'])
  })
})
