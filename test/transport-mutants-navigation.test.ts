/**
 * A navigation sent as it is (no init: nothing of ours rides with the request) whose caller aborted before it reached
 * the transport (while it waited at a gate, for a probe lease) is not sent: fetch(request, { signal }) would not send it
 * either, and the caller is gone.
 */
import { afterEach, beforeEach, expect, it, vi } from 'vitest'
import { normalizeOptions, normalizeTimeout } from '../src/options.js'
import { transportStage } from '../src/stages/transport.js'
import { testCall, testRuntime } from './stages/helpers.js'

beforeEach(() => void vi.useFakeTimers({ now: 1_000_000 }))
afterEach(() => void vi.useRealTimers())

it("a navigation whose caller aborted before the transport ends as the caller's abort, sending nothing", async () => {
  const fetch = vi.fn(async () => new Response('page'))
  const t = testRuntime(Date.now)
  const stage = transportStage(normalizeOptions({ fetch }), t.runtime)
  const caller = new AbortController()
  const input = Object.defineProperty(new Request('https://a.test/page', { signal: caller.signal }), 'mode', { value: 'navigate' })
  const reason = new Error('gone')
  caller.abort(reason)
  const call = testCall({ input, signal: caller.signal, timeout: normalizeTimeout({ attempt: 1_000, total: false }) })
  expect(await stage.run({ call, signal: call.signal, start: Date.now() })).toEqual({ kind: 'aborted', reason })
  expect(fetch).not.toHaveBeenCalled()
  expect(t.seen).toEqual([])
})
