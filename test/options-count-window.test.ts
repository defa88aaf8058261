// A count window keeps a slot per call in it for each key, allocated at the key's first call: a size no memory holds
// (2 ** 32) is refused when the instance is made, naming the option, not thrown by that first call.
import { expect, it } from 'vitest'
import { createResilientFetch } from '../src/index.js'

const make = (size: number) => () => createResilientFetch({ fetch: async () => new Response('ok'), breaker: { window: { type: 'count', size } } })

it.each([2 ** 32, 100_001])('breaker.window.size %d is refused when the instance is made', (size) => {
  expect(make(size)).toThrow(new RangeError(`breaker.window.size must be at most 100000, got ${size}`))
})

it('breaker.window.size 100000 is taken, and a call goes through', async () => {
  const rf = make(100_000)()
  expect((await rf('https://api.example/x')).status).toBe(200)
})
