// memoryStore's LRU: what its suite leaves open.
import { describe, expect, it } from 'vitest'
import { memoryStore } from '../src/store/memory.js'
import { entry, text } from './store/helpers.js'

describe('memoryStore', () => {
  it('a new copy too large to keep leaves the copy it would have replaced, as the fallback does for a body over maxBodyBytes', async () => {
    const store = memoryStore({ maxBytes: 1_000 })
    await store.put('GET https://a/report', entry('small'))
    await store.put('GET https://a/report', entry('x'.repeat(2_000)))
    expect(text((await store.get('GET https://a/report'))!.body)).toBe('small')
  })

  /** The bytes memoryStore counts for `e`: body, URL, status text and headers, plus a fixed 16 (and 4 a header). */
  const sizeOf = (e: ReturnType<typeof entry>) => e.body.byteLength + e.url.length + e.statusText.length + 16 + e.headers.reduce((n, [k, v]) => n + k.length + v.length + 4, 0)

  it('keeps an entry of exactly maxBytes, and two that fill maxBytes exactly', async () => {
    const one = entry('x'.repeat(100))
    const store = memoryStore({ maxBytes: sizeOf(one) })
    await store.put('a', one)
    expect(await store.get('a')).toBeDefined()
    const pair = memoryStore({ maxBytes: 2 * sizeOf(one) })
    await pair.put('a', one)
    await pair.put('b', one)
    expect(await pair.get('a')).toBeDefined()
    expect(await pair.get('b')).toBeDefined()
  })

  it('counts the status text toward maxBytes', async () => {
    const plain = entry('x', { statusText: '' })
    const store = memoryStore({ maxBytes: sizeOf(plain) + 10 })
    await store.put('a', entry('x', { statusText: 'y'.repeat(20) }))
    expect(await store.get('a')).toBeUndefined()
  })
})
