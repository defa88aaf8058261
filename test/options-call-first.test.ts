/**
 * A bad per-call `timeout` or `retry` is refused first, as fetch refuses a bad init before it looks at its signal: not
 * hidden behind a signal already aborted, and before the instance's key function runs.
 */
import { expect, it, vi } from 'vitest'
import { createResilientFetch } from '../src/index.js'

const URL_A = 'https://api.example.com/items'

it.each([
  [{ timeout: -1 }, RangeError, 'resilience.timeout'],
  [{ timeout: { attempt: 'soon' } }, TypeError, 'resilience.timeout.attempt'],
  [{ retry: { limit: -1 } }, RangeError, 'resilience.retry.limit'],
])('%j with a signal already aborted rejects naming the option, not with the abort', async (resilience, type, option) => {
  const transport = vi.fn(async () => new Response('ok'))
  const rf = createResilientFetch({ fetch: transport })
  const rejection = rf(URL_A, { signal: AbortSignal.abort(), resilience: resilience as never })
  await expect(rejection).rejects.toThrow(type)
  await expect(rejection).rejects.toThrow(option)
  expect(transport).not.toHaveBeenCalled()
})

it('the instance key function is not run for a call whose options are refused', async () => {
  const key = vi.fn(() => 'k')
  const rf = createResilientFetch({ fetch: async () => new Response('ok'), key })
  await expect(rf(URL_A, { resilience: { timeout: NaN } })).rejects.toThrow('resilience.timeout')
  expect(key).not.toHaveBeenCalled()
})
