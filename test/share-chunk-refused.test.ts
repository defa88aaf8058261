import { afterEach, expect, it, vi } from 'vitest'
import { collect } from './gc-helpers.js'

afterEach(() => {
  vi.doUnmock('../src/breaker/shared.js')
  vi.restoreAllMocks()
})

it("an instance on a share whose chunk will not load goes on without it, and holds no breaker it let go: a key dropped beyond maxKeys is collected", async () => {
  // A fresh graph where the share's side of the breaker stage cannot be imported (a Service Worker refuses import()).
  vi.resetModules()
  vi.doMock('../src/breaker/shared.js', () => {
    throw new TypeError('import() is disallowed here')
  })
  const warn = vi.spyOn(console, 'warn').mockImplementation(() => {})
  const { createResilientFetch } = await import('../src/index.js')
  const statuses = [500]
  const fetch = vi.fn(async () => new Response('x', { status: statuses.shift() ?? 200 }))
  const share = { connect: vi.fn(), publish: vi.fn() }
  const rf = createResilientFetch({ fetch, retry: false, fallback: false, timeout: false, maxKeys: 1, breaker: { failureThreshold: 1 }, share })
  await vi.waitFor(() => expect(warn).toHaveBeenCalledWith('resilient-fetch: share is off:', expect.anything()))
  // After that, a key's breaker opens by itself, and is closed by hand: changes of its own, with no share to tell.
  const dropped = await (async () => {
    await rf('https://a.test/')
    const breaker = rf.breaker('https://a.test')!
    expect(breaker.state).toBe('open')
    breaker.close()
    return new WeakRef(breaker)
  })()
  // A second key beyond maxKeys: 1 drops the first (closed and idle).
  expect((await rf('https://b.test/')).status).toBe(200)
  expect(rf.breaker('https://a.test')).toBeUndefined()
  await collect()
  expect(dropped.deref()).toBeUndefined()
  expect(share.connect).not.toHaveBeenCalled()
  expect(share.publish).not.toHaveBeenCalled()
})
