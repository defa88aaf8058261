import { describe, expect, it, vi } from 'vitest'
import { fromStored, isQuotaError, readBody, toStored } from '../../src/store/entry.js'
import { isStoredResponse } from '../../src/store/backend.js'
import { entry, quotaError, text } from './helpers.js'

function stream(chunks: number[], onCancel: () => void): ReadableStream<Uint8Array> {
  let i = 0
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (i < chunks.length) controller.enqueue(new Uint8Array(chunks[i++]))
      else controller.close()
    },
    cancel: onCancel,
  })
}

describe('readBody', () => {
  it('joins the chunks of a body within the limit', async () => {
    const body = await readBody(new Response('hello world').body, 100, 10_000)
    expect(text(body!)).toBe('hello world')
  })

  it('stops reading and cancels the stream once the limit is passed', async () => {
    let cancelled = false
    const chunks = [40, 40, 40, 40, 40]
    const source = stream(chunks, () => {
      cancelled = true
    })
    expect(await readBody(source, 100, 10_000)).toBeUndefined()
    expect(cancelled).toBe(true)
  })

  it('gives up and cancels the stream when the body has not ended after ms, and not before', async () => {
    vi.useFakeTimers()
    try {
      let cancelled = false
      // One chunk, then nothing more (a feed that went quiet, or a body arriving slowly).
      let sent = false
      const source = new ReadableStream<Uint8Array>({
        pull: (controller) => (sent ? new Promise<void>(() => {}) : void ((sent = true), controller.enqueue(new Uint8Array(4)))),
        cancel: () => void (cancelled = true),
      })
      let result: unknown = 'pending'
      void readBody(source, 100, 10_000).then((body) => (result = body))
      await vi.advanceTimersByTimeAsync(9_999)
      expect([result, cancelled]).toEqual(['pending', false])
      await vi.advanceTimersByTimeAsync(1)
      expect([result, cancelled]).toEqual([undefined, true])
      // A body that ends in time is kept, and leaves no timer behind.
      expect(text((await readBody(new Response('done').body, 100, 10_000))!)).toBe('done')
      expect(vi.getTimerCount()).toBe(0)
    } finally {
      vi.useRealTimers()
    }
  })

  it('a missing body is an empty one', async () => {
    expect((await readBody(null, 10, 10_000))!.byteLength).toBe(0)
  })
})

describe('toStored / fromStored', () => {
  it('keeps status, statusText, headers and body; drops Set-Cookie and transfer headers', async () => {
    const response = new Response('{"a":1}', {
      status: 200,
      statusText: 'Fine',
      headers: { 'content-type': 'application/json', 'set-cookie': 'sid=1', 'content-encoding': 'gzip', 'x-custom': 'yes' },
    })
    const stored = await toStored('https://a/x', response, 42, 1_000, [], 10_000)
    expect(stored).toMatchObject({ url: 'https://a/x', status: 200, statusText: 'Fine', storedAt: 42 })
    expect(stored!.headers).toEqual([
      ['content-type', 'application/json'],
      ['x-custom', 'yes'],
    ])
    const served = fromStored(stored!, { Age: '3' })
    expect(served.status).toBe(200)
    expect(served.statusText).toBe('Fine')
    expect(served.headers.get('age')).toBe('3')
    expect(served.headers.get('x-custom')).toBe('yes')
    expect(await served.json()).toEqual({ a: 1 })
  })

  it('is undefined for a body over the limit', async () => {
    expect(await toStored('https://a/x', new Response('x'.repeat(11)), 0, 10, [], 10_000)).toBeUndefined()
  })

  it('serving twice does not detach or share the stored buffer', async () => {
    const stored = entry('same')
    expect(await fromStored(stored).text()).toBe('same')
    expect(await fromStored(stored).text()).toBe('same')
    expect(stored.body.byteLength).toBe(4)
  })
})

describe('isStoredResponse', () => {
  it('accepts a whole entry and rejects damaged ones', () => {
    expect(isStoredResponse(entry())).toBe(true)
    expect(isStoredResponse(undefined)).toBe(false)
    expect(isStoredResponse('garbage')).toBe(false)
    expect(isStoredResponse({ ...entry(), body: new Blob(['x']) })).toBe(false)
    expect(isStoredResponse({ ...entry(), headers: [['a']] })).toBe(false)
    expect(isStoredResponse({ ...entry(), storedAt: Number.NaN })).toBe(false)
    expect(isStoredResponse({ ...entry(), status: 0 })).toBe(false)
  })

  it('rejects entries of the right shape that no Response can be built from, in any runtime', () => {
    expect(isStoredResponse(entry('', { status: 204 }))).toBe(true)
    expect(isStoredResponse(entry('body', { status: 204 }))).toBe(false)
    expect(isStoredResponse(entry('x', { headers: [['bad header', 'x']] }))).toBe(false)
    expect(isStoredResponse(entry('x', { headers: [['x-a', 'line\r\nbreak']] }))).toBe(false)
    expect(isStoredResponse(entry('x', { statusText: 'O\nK' }))).toBe(false)
    expect(isStoredResponse(entry('x', { headers: [['x-resilient-vary', '%E0%A4%A']] }))).toBe(false)
    expect(isStoredResponse(entry('x', { headers: [['x-resilient-vary', encodeURIComponent('{"accept":1}')]] }))).toBe(false)
    expect(isStoredResponse(entry('x', { headers: [['x-resilient-vary', encodeURIComponent('[["accept",null]]')]] }))).toBe(true)
  })

  it('an empty stored 204 becomes a Response without a body', async () => {
    const response = fromStored(entry('', { status: 204 }))
    expect(response.status).toBe(204)
    expect(response.body).toBeNull()
  })
})

describe('isQuotaError', () => {
  it('recognises quota errors by name', () => {
    expect(isQuotaError(quotaError())).toBe(true)
    expect(isQuotaError(Object.assign(new Error('x'), { name: 'NS_ERROR_DOM_QUOTA_REACHED' }))).toBe(true)
    expect(isQuotaError(new TypeError('x'))).toBe(false)
    expect(isQuotaError(undefined)).toBe(false)
  })
})
