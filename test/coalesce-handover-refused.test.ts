/**
 * Where I/O is per request (workerd), joined callers are answered by a chunk of their own, src/stages/handover.ts: there
 * the coalesce stage comes once that chunk has loaded too, and when it will not load, coalescing is off as when the
 * stage's own chunk will not (src/stages/lazy.ts): the console says so once, and each call sends its own request.
 * Before, callers joined anyway and, the chunk failed, waited until the shared request was 31 s old before sending
 * their own, while the failed import rejected with nobody to handle it.
 */
import { afterEach, beforeEach, expect, it, vi } from 'vitest'

const HANDOVER = '../src/stages/handover.js'
const unhandled: unknown[] = []
const onUnhandled = (reason: unknown) => void unhandled.push(reason)

beforeEach(() => {
  vi.useFakeTimers({ now: 1_000_000 })
  vi.stubGlobal('navigator', { userAgent: 'Cloudflare-Workers' })
  unhandled.length = 0
  process.on('unhandledRejection', onUnhandled)
})

afterEach(() => {
  process.off('unhandledRejection', onUnhandled)
  vi.doUnmock(HANDOVER)
  vi.resetModules()
  vi.unstubAllGlobals()
  vi.useRealTimers()
  vi.restoreAllMocks()
})

const settle = () => vi.advanceTimersByTimeAsync(0)

/** Node reports an unhandled rejection once the microtasks have run: one real turn of the event loop. */
async function unhandledRejections(): Promise<unknown[]> {
  vi.useRealTimers()
  await new Promise((resolve) => setTimeout(resolve, 0))
  return unhandled
}

/**
 * An instance with coalescing on, in a fresh module graph whose handover chunk loads when `arrive()` is called or
 * fails to load with `refuse()`; each request it sends waits until the test answers it.
 */
async function setup() {
  vi.resetModules()
  let arrive!: () => void
  let refuse!: () => void
  const error = new TypeError('the handover chunk failed to load')
  const loaded = new Promise<void>((resolve, reject) => ((arrive = resolve), (refuse = () => reject(error))))
  // Imported here (real I/O, which fake time does not move): the mock gives it at once when let.
  const handover = await vi.importActual(HANDOVER)
  vi.doMock(HANDOVER, async () => {
    await loaded
    return handover
  })
  const warn = vi.spyOn(console, 'warn').mockImplementation(() => {})
  const { createResilientFetch } = await import('../src/index.js')
  const sent: ((body: string) => void)[] = []
  const fetch = vi.fn(() => new Promise<Response>((resolve) => sent.push((body) => resolve(new Response(body)))))
  const rf = createResilientFetch({ fetch, coalesce: true, fallback: false, retry: false, timeout: { attempt: false, total: 60_000 } })
  // As a Worker's handler calls it, with its ctx.waitUntil: only such a call's request is joined there.
  const call = () => rf('https://a.test/x', { resilience: { waitUntil: () => {} } })
  return { rf, fetch, sent, call, arrive, refuse, warn, error }
}

const texts = (calls: Promise<Response>[]) => Promise.all(calls.map(async (call) => (await call).text()))

it('a handover chunk that will not load leaves coalescing off: each caller sends its own request at once, the console says so once', async () => {
  const { rf, fetch, sent, call, refuse, warn, error } = await setup()
  const calls = [call(), call(), call()]
  await settle()
  // Before, the first call's request was out and the others had joined it.
  expect(fetch).not.toHaveBeenCalled()
  refuse()
  await settle()
  expect(fetch).toHaveBeenCalledTimes(3)
  // Once (vitest wraps what a mock's factory throws).
  expect(warn.mock.calls).toEqual([['resilient-fetch: coalesce is off:', expect.objectContaining({ cause: error })]])
  calls.push(call())
  await settle()
  expect(fetch).toHaveBeenCalledTimes(4)
  sent.forEach((answer, i) => answer(`request ${i}`))
  expect(await texts(calls)).toEqual(['request 0', 'request 1', 'request 2', 'request 3'])
  expect(rf.snapshot().totals).toMatchObject({ requests: 4, successes: 4, coalesced: 0 })
  expect(await unhandledRejections()).toEqual([])
})

it('once the handover chunk has loaded, the calls that waited for it share one request', async () => {
  const { rf, fetch, sent, call, arrive, warn } = await setup()
  const calls = [call(), call(), call()]
  await settle()
  expect(fetch).not.toHaveBeenCalled()
  arrive()
  await settle()
  expect(fetch).toHaveBeenCalledTimes(1)
  sent[0]!('shared')
  expect(await texts(calls)).toEqual(['shared', 'shared', 'shared'])
  expect(rf.snapshot().totals).toMatchObject({ requests: 3, coalesced: 2 })
  expect(warn).not.toHaveBeenCalled()
  expect(await unhandledRejections()).toEqual([])
})

it('a call waits for the handover chunk no longer than its total deadline, as for any lazy stage, never sent', async () => {
  const { fetch, call } = await setup()
  const outcome = call().then(
    () => 'answered',
    (error: Error) => error.name,
  )
  await vi.advanceTimersByTimeAsync(60_000 - 1)
  expect(fetch).not.toHaveBeenCalled()
  await vi.advanceTimersByTimeAsync(1)
  expect(await outcome).toBe('TimeoutError')
  expect(fetch).not.toHaveBeenCalled()
})
