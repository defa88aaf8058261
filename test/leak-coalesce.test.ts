/**
 * Nothing is left half-done by a call the coalescing stage cannot share: a GET whose headers fetch refuses (a name or a
 * value it cannot send) rejects as fetch rejects it, and its key is idle again afterwards, so it is dropped to keep
 * within `maxKeys` like any other idle key (a call that stayed counted kept its key, and the instance grew past the bound).
 */
import { afterAll, beforeAll, expect, it } from 'vitest'
import { createResilientFetch } from '../src/index.js'
import { tailServer } from './tail-server.js'

/** Answers 'ok'; what reached it is in its `seen`. */
let server: Awaited<ReturnType<typeof tailServer>>
let origin: string
beforeAll(async () => {
  server = await tailServer((_req, res) => void res.end('ok'))
  origin = server.origin
})
afterAll(() => server.close())

const keysOf = (rf: ReturnType<typeof createResilientFetch>) => rf.snapshot().breakers.map((breaker) => breaker.key)

const badHeaders: [string, HeadersInit][] = [
  ['an invalid header name', { 'bad header': 'x' }],
  ['an invalid header value', { 'x-value': 'a\nb' }],
]

it.each(badHeaders)('a coalescing GET with %s rejects as fetch does, and leaves its key idle: within maxKeys (real server)', async (_, headers) => {
  const rf = createResilientFetch({ coalesce: true, fallback: false, maxKeys: 2 })
  // The coalescing stage's chunk is here: the first call goes through it.
  expect(await (await rf(`${origin}/warm`, { resilience: { key: 'warm' } })).text()).toBe('ok')
  const before = server.seen.length
  const refused = await fetch(`${origin}/`, { headers }).then(
    () => undefined,
    (error: unknown) => error,
  )
  expect(refused).toBeInstanceOf(TypeError)
  for (let i = 0; i < 5; i++) {
    const error = await rf(`${origin}/?k=${i}`, { headers, resilience: { key: `bad${i}` } }).then(
      () => undefined,
      (error: unknown) => error,
    )
    expect(error).toBeInstanceOf(TypeError)
    expect((error as TypeError).message).toBe((refused as TypeError).message)
  }
  expect(server.seen.length).toBe(before)
  for (let i = 0; i < 2; i++) expect(await (await rf(`${origin}/?good=${i}`, { resilience: { key: `good${i}` } })).text()).toBe('ok')
  expect(keysOf(rf)).toEqual(['good0', 'good1'])
})

it('a coalescing GET with headers fetch refuses, through a fetch of your own, leaves its key idle', async () => {
  const rf = createResilientFetch({ coalesce: true, fallback: false, maxKeys: 1, fetch: (input, init) => (new Request(input, init), Promise.resolve(new Response('ok'))) })
  expect(await (await rf('https://warm.test/')).text()).toBe('ok')
  await expect(rf('https://a.test/', { headers: { 'bad header': 'x' } })).rejects.toBeInstanceOf(TypeError)
  expect(await (await rf('https://b.test/')).text()).toBe('ok')
  expect(keysOf(rf)).toEqual(['https://b.test'])
})
