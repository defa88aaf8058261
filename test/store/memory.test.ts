import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { memoryStore, memoryStoreSchema } from '../../src/store/memory.js'
import { LRU_DEFAULTS } from '../../src/store/lru.js'
import { entry, text, evictable } from './helpers.js'

describe('memoryStore', () => {
  it("the LRU behind 'memory' and 'auto' without storage keeps memoryStore's defaults", () => {
    const { maxEntries, maxBytes } = memoryStoreSchema.shape
    expect(LRU_DEFAULTS).toEqual({ maxEntries: maxEntries[1], maxBytes: maxBytes[1] })
  })

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
    [{ maxEntries: 0 }, RangeError, 'memoryStore options.maxEntries must be a positive integer, got 0'],
    [{ maxEntries: 1.5 }, RangeError, 'memoryStore options.maxEntries must be a positive integer, got 1.5'],
    [{ maxBytes: -1 }, RangeError, 'memoryStore options.maxBytes must be a positive integer, got -1'],
    [{ maxBytes: '10' as unknown as number }, TypeError, 'memoryStore options.maxBytes must be a number, got "10" (a string: write 10 without quotes)'],
  ])('rejects %o through the option schema, naming the option and value', (options, type, message) => {
    expect(() => memoryStore(options)).toThrow(new type(message))
  })

  it('rejects unknown options, naming them', () => {
    expect(() => memoryStore({ maxEntires: 5 } as never)).toThrow(new TypeError('memoryStore options.maxEntires is not an option (known: maxEntries, maxBytes)'))
  })
})

describe('memoryStore against a model LRU (fast-check)', () => {
  type Op = { kind: 'put'; key: string; size: number } | { kind: 'get'; key: string } | { kind: 'delete'; key: string }
  const key = fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f')
  const op: fc.Arbitrary<Op> = fc.oneof(
    fc.record({ kind: fc.constant('put' as const), key, size: fc.integer({ min: 0, max: 400 }) }),
    fc.record({ kind: fc.constant('get' as const), key }),
    fc.record({ kind: fc.constant('delete' as const), key }),
  )

  it('holds exactly what a least-recently-used list bounded by count and bytes would', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(op, { maxLength: 60 }), fc.integer({ min: 1, max: 4 }), async (ops, maxEntries) => {
        const maxBytes = 1_000
        const store = memoryStore({ maxEntries, maxBytes })
        // The model: keys oldest first, with each entry's size as entrySize counts it.
        let model: { key: string; size: number }[] = []
        const sizeOf = (e: ReturnType<typeof entry>) => e.body.byteLength + e.url.length + e.statusText.length + 16 + e.headers.reduce((n, [k, v]) => n + k.length + v.length + 4, 0)
        for (const o of ops) {
          if (o.kind === 'put') {
            const value = entry('x'.repeat(o.size))
            await store.put(o.key, value)
            model = model.filter((m) => m.key !== o.key)
            if (sizeOf(value) <= maxBytes) model.push({ key: o.key, size: sizeOf(value) })
            while (model.length > maxEntries || model.reduce((n, m) => n + m.size, 0) > maxBytes) model.shift()
          } else if (o.kind === 'get') {
            const found = await store.get(o.key)
            const at = model.findIndex((m) => m.key === o.key)
            expect(found !== undefined).toBe(at !== -1)
            if (at !== -1) model.push(...model.splice(at, 1))
          } else {
            await store.delete(o.key)
            model = model.filter((m) => m.key !== o.key)
          }
        }
        for (const k of ['a', 'b', 'c', 'd', 'e', 'f']) {
          expect((await store.get(k)) !== undefined).toBe(model.some((m) => m.key === k))
        }
      }),
      { numRuns: 200 },
    )
  })
})
