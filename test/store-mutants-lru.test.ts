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
})
