/**
 * A key function (`key(request)`) names the breaker and bulkhead of a call. A per-call `resilience.key`
 * wins over it; what it returns must be a string; and the Request it needs is sent as the caller's
 * call would have been: its body whole.
 */
import { describe, expect, it } from 'vitest'
import { createResilientFetch, resilienceInfo } from '../src/index.js'
import { rejection } from './helpers.js'

describe('a key function', () => {
  it('gives way to a per-call resilience.key: the call is keyed, and counted, under the per-call key', async () => {
    const rf = createResilientFetch({ fetch: async () => new Response('ok'), fallback: false, key: () => 'by-function' })
    const response = await rf('https://a.test/x', { resilience: { key: 'per-call' } })
    expect(resilienceInfo(response)?.key).toBe('per-call')
    expect(rf.breaker('per-call')).toBeDefined()
    expect(rf.breaker('by-function')).toBeUndefined()
  })

  it('that returns no string rejects the call with a TypeError naming what it returned, and nothing is sent', async () => {
    let sent = 0
    const transport: typeof fetch = async () => {
      sent++
      return new Response('ok')
    }
    const rf = createResilientFetch({ fetch: transport, fallback: false, key: () => 42 as unknown as string })
    const error = await rejection(rf('https://a.test/x'))
    expect(error).toBeInstanceOf(TypeError)
    expect((error as Error).message).toBe('key() must return a string, got number')
    expect(sent).toBe(0)
  })

  it('sends a POST of FormData whole: the body arrives in the boundary its Content-Type names', async () => {
    // The transport reads the request as fetch would build it from its arguments.
    const transport: typeof fetch = async (input, init) => Response.json(Object.fromEntries(await new Request(input, init).formData()))
    const rf = createResilientFetch({ fetch: transport, fallback: false, key: () => 'forms' })
    const form = new FormData()
    form.append('name', 'Zoë')
    form.append('note', 'kept')
    const response = await rf('https://a.test/form', { method: 'POST', body: form })
    expect(response.status).toBe(200)
    expect(await response.json()).toEqual({ name: 'Zoë', note: 'kept' })
  })
})
