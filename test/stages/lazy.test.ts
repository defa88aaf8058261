/**
 * An off-by-default stage (coalesce, hedge, throttle) loads as its own chunk: a call that needs it before it arrives
 * waits for it, but no longer than the caller's abort and the call's total deadline. (The wait once took neither:
 * with a slow chunk, an aborted call and a call past its deadline both hung until the chunk came.)
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import type { ResilientFetchOptions } from '../../src/types.js'

const CHUNKS = {
  coalesce: '../../src/stages/coalesce.js',
  hedge: '../../src/stages/hedge.js',
  throttle: '../../src/stages/throttle.js',
} as const
type Chunk = keyof typeof CHUNKS
const OPTIONS: Record<Chunk, ResilientFetchOptions> = { coalesce: { coalesce: true }, hedge: { hedge: { delay: 50 } }, throttle: { throttle: {} } }

beforeEach(() => void vi.useFakeTimers())
afterEach(() => {
  vi.useRealTimers()
  for (const path of Object.values(CHUNKS)) vi.doUnmock(path)
  vi.resetModules()
})

/** An instance whose `chunk` loads only when `arrive()` is called (or fails to load, with `fail()`). */
async function withSlowChunk(chunk: Chunk) {
  vi.resetModules()
  let arrive!: () => void
  let fail!: () => void
  const loaded = new Promise<void>((resolve, reject) => ((arrive = resolve), (fail = () => reject(new Error('chunk failed to load')))))
  const path = CHUNKS[chunk]
  vi.doMock(path, async () => {
    await loaded
    return vi.importActual(path)
  })
  const { createResilientFetch } = await import('../../src/index.js')
  const fetch = vi.fn(async () => new Response('ok'))
  const rf = createResilientFetch({ fetch, retry: false, fallback: false, breaker: false, timeout: { attempt: 200, total: 300 }, ...OPTIONS[chunk] })
  const timeouts: unknown[] = []
  rf.addEventListener('timeout', (e) => timeouts.push((e as CustomEvent).detail))
  return { rf, fetch, timeouts, arrive, fail }
}

/** When `p` settled (fake ms since `from`), checked each `step` ms up to `until`; undefined if it had not. */
async function settledAt(p: Promise<unknown>, until: number, step = 1): Promise<number | undefined> {
  const from = Date.now()
  let at: number | undefined
  p.then(() => (at ??= Date.now() - from), () => (at ??= Date.now() - from))
  for (let waited = 0; waited < until && at === undefined; waited += step) await vi.advanceTimersByTimeAsync(step)
  return at
}

describe.each(Object.keys(CHUNKS) as Chunk[])('while the %s chunk loads', (chunk) => {
  it('a call ends at its caller abort, as that abort, never sent', async () => {
    const { rf, fetch } = await withSlowChunk(chunk)
    const controller = new AbortController()
    setTimeout(() => controller.abort(new Error('caller gave up')), 100)
    const call = rf('https://api.test/x', { signal: controller.signal })
    const outcome = call.then(() => 'resolved', (error: Error) => error.message)
    expect(await settledAt(call, 2_000)).toBe(100)
    expect(await outcome).toBe('caller gave up')
    expect(fetch).not.toHaveBeenCalled()
  })

  it('a call ends at its total deadline with the TimeoutError (scope total), reported, never sent', async () => {
    const { rf, fetch, timeouts } = await withSlowChunk(chunk)
    const call = rf('https://api.test/y')
    const outcome = call.then(() => undefined, (error: unknown) => error)
    expect(await settledAt(call, 2_000)).toBe(300)
    expect(await outcome).toMatchObject({ name: 'TimeoutError', scope: 'total', timeout: 300 })
    expect(fetch).not.toHaveBeenCalled()
    expect(timeouts).toEqual([{ key: 'https://api.test', timeout: 300, scope: 'total' }])
    expect(rf.snapshot().totals.timeouts).toBe(1)
  })

  it('a call goes on with the stage once the chunk arrives in time', async () => {
    const { rf, fetch, arrive } = await withSlowChunk(chunk)
    const call = rf('https://api.test/z')
    await vi.advanceTimersByTimeAsync(150)
    expect(fetch).not.toHaveBeenCalled()
    arrive()
    const response = await call
    expect(await response.text()).toBe('ok')
    expect(fetch).toHaveBeenCalledTimes(1)
  })

  it('a chunk that fails to load lets calls through without the stage, and the console says so once, naming the stage and the error', async () => {
    // Spied, not printed: the warning is what this test proves, and stderr stays clean.
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {})
    try {
      const { rf, fetch, fail } = await withSlowChunk(chunk)
      const call = rf('https://api.test/w')
      fail()
      expect(await (await call).text()).toBe('ok')
      expect(await (await rf('https://api.test/w2')).text()).toBe('ok')
      expect(fetch).toHaveBeenCalledTimes(2)
      // The error import() rejected with: vitest wraps a mock factory's rejection, the chunk's own error as its cause.
      expect(warn.mock.calls).toEqual([[`resilient-fetch: ${chunk} is off:`, expect.any(Error)]])
      expect(warn.mock.calls[0]![1]).toMatchObject({ cause: { message: 'chunk failed to load' } })
    } finally {
      warn.mockRestore()
    }
  })
})
