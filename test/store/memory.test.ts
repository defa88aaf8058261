import { describe, expect, it } from 'vitest'
import { memoryStore } from '../../src/store/memory.js'
import { entry, text, evictable } from './helpers.js'

describe('memoryStore', () => {
  it('returns what was put, and undefined for unknown keys', async () => {
    const store = memoryStore()
    await store.put('GET https://a/1', entry('one'))
    expect(text((await store.get('GET https://a/1'))!.body)).toBe('one')
    expect(await store.get('GET https://a/2')).toBeUndefined()
  })

  it('drops the least recently used entry beyond maxEntries; a get counts as use', async () => {
    const store = memoryStore({ maxEntries: 2 })
    await store.put('a', entry('a'))
    await store.put('b', entry('b'))
    await store.get('a')
    await store.put('c', entry('c'))
    expect(await store.get('b')).toBeUndefined()
    expect(await store.get('a')).toBeDefined()
    expect(await store.get('c')).toBeDefined()
  })

  it('drops least recently used entries until the bytes fit maxBytes', async () => {
    const store = memoryStore({ maxBytes: 3_000 })
    await store.put('a', entry('x'.repeat(1_000)))
    await store.put('b', entry('x'.repeat(1_000)))
    await store.put('c', entry('x'.repeat(1_000)))
    expect(await store.get('a')).toBeUndefined()
    expect(await store.get('b')).toBeDefined()
    expect(await store.get('c')).toBeDefined()
  })

  it('does not store an entry larger than maxBytes, and keeps the others', async () => {
    const store = memoryStore({ maxBytes: 1_000 })
    await store.put('small', entry('x'))
    await store.put('big', entry('x'.repeat(2_000)))
    expect(await store.get('big')).toBeUndefined()
    expect(await store.get('small')).toBeDefined()
  })

  it('replacing a key frees the bytes of the old value', async () => {
    const store = memoryStore({ maxBytes: 2_500 })
    await store.put('a', entry('x'.repeat(1_000)))
    for (let i = 0; i < 5; i++) await store.put('b', entry('x'.repeat(1_000)))
    expect(await store.get('a')).toBeDefined()
  })

  it('delete, clear and evict (the least recently used half)', async () => {
    const store = memoryStore()
    for (const key of ['a', 'b', 'c', 'd']) await store.put(key, entry(key))
    await store.delete('a')
    expect(await store.get('a')).toBeUndefined()
    await evictable(store).evict()
    expect(await store.get('b')).toBeUndefined()
    expect(await store.get('c')).toBeUndefined()
    expect(await store.get('d')).toBeDefined()
    await store.clear()
    expect(await store.get('d')).toBeUndefined()
  })

  it.each([
    [{ maxEntries: 0 }, 'memoryStore: maxEntries must be a positive integer, got 0'],
    [{ maxEntries: 1.5 }, 'memoryStore: maxEntries must be a positive integer, got 1.5'],
    [{ maxBytes: -1 }, 'memoryStore: maxBytes must be a positive integer, got -1'],
    [{ maxBytes: '10' as unknown as number }, 'memoryStore: maxBytes must be a positive integer, got "10"'],
  ])('rejects %o with a RangeError naming the option and value', (options, message) => {
    expect(() => memoryStore(options)).toThrow(new RangeError(message))
  })
})
