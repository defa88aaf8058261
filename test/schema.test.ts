import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { createResilientFetch } from '../src/index.js'
import {
  attemptAndTotal,
  breakerSchema,
  bulkheadSchema,
  fallbackSchema,
  hedgeSchema,
  normalizeOptions,
  openDurationBackoff,
  optionsSchema,
  retryPolicy,
  throttleSchema,
} from '../src/options.js'
import { MAX_DURATION, shapeOf, type Check } from '../src/schema.js'
import { memoryStore, memoryStoreSchema } from '../src/store/memory.js'
import { idbStore } from '../src/store/idb.js'
import { cacheStore } from '../src/store/cache.js'
import { cacheStoreSchema } from '../src/store/cache-options.js'
import { idbStoreSchema } from '../src/store/idb-options.js'
import { kvStore, type KvNamespaceLike } from '../src/store/kv.js'
import { kvStoreSchema } from '../src/store/kv-options.js'
import { shareAcrossTabs } from '../src/share/tabs.js'
import { shareAcrossTabsSchema } from '../src/share/options.js'
import { durableObjectShare, durableObjectShareSchema, type CoordinatorNamespace } from '../src/worker/share.js'
import { configFromEnv, proxyConfigSchema } from '../src/worker/config.js'
import { createProxy } from '../src/worker/proxy.js'

const TYPES = readFileSync(new URL('../src/types.ts', import.meta.url), 'utf8')
const README = readFileSync(new URL('../README.md', import.meta.url), 'utf8')

/** The interfaces of types.ts whose fields are options, with the schema that checks them. */
const SCHEMAS: Record<string, Check<unknown>> = {
  ResilientFetchOptions: optionsSchema,
  BreakerOptions: breakerSchema,
  OpenDurationBackoff: openDurationBackoff,
  BulkheadOptions: bulkheadSchema,
  TimeoutOptions: attemptAndTotal,
  RetryOptions: retryPolicy,
  FallbackOptions: fallbackSchema,
  HedgeOptions: hedgeSchema,
  ThrottleOptions: throttleSchema,
}

/** `@default` tags written in prose (what the code does, not a value): held to the schema by hand below. */
const PROSE = new Set(['ResilientFetchOptions.fetch', 'ResilientFetchOptions.key', 'ResilientFetchOptions.retry', 'ResilientFetchOptions.isFailure'])

/** Every `@default` of an option field in `source` (types.ts unless given): interface, field, and the tag's text. */
function defaultTags(source = TYPES, schemas: Record<string, unknown> = SCHEMAS): { where: string; field: string; text: string }[] {
  const tags: { where: string; field: string; text: string }[] = []
  const interfaces = [...source.matchAll(/export interface (\w+)[^{]*\{([\s\S]*?)\n\}/g)]
  for (const [, name, body] of interfaces) {
    if (schemas[name!] === undefined) continue
    for (const [, doc, field] of body!.matchAll(/\/\*\*((?:(?!\*\/)[\s\S])*)\*\/\s*(?:readonly\s+)?(\w+)\??:/g)) {
      const tag = /@default\s+([\s\S]*?)\s*(?:\n\s*\*\s*@|\n?\s*$)/.exec(doc!.replace(/\n\s*\*(?!\/)/g, '\n'))
      if (tag) tags.push({ where: name!, field: field!, text: tag[1]!.trim() })
    }
  }
  return tags
}

/** The object schemas behind the top-level options that are on by default. */
const NESTED: Record<string, Record<string, { default?: unknown }> | undefined> = {
  breaker: shapeOf(breakerSchema),
  bulkhead: shapeOf(bulkheadSchema),
  timeout: shapeOf(attemptAndTotal),
  retry: shapeOf(retryPolicy),
  fallback: shapeOf(fallbackSchema),
}

const evaluate = (text: string): unknown => new Function(`return (${text})`)()

function normalizedDefault(schema: Check<unknown>, field: string, path: string): unknown {
  const spec = shapeOf(schema)![field]!
  return spec.check(spec.default, path)
}

describe('the option schema', () => {
  it('holds every @default tag in types.ts to the default it applies', () => {
    const tags = defaultTags()
    expect(tags.length).toBeGreaterThan(25)
    for (const { where, field, text } of tags) {
      const schema = SCHEMAS[where]!
      const spec = shapeOf(schema)?.[field]
      expect(spec, `${where}.${field} is documented but not in the schema`).toBeDefined()
      if (PROSE.has(`${where}.${field}`)) continue
      const path = `${where}.${field}`
      expect(spec!.check(evaluate(text), path), `${where}.${field}: @default ${text}`).toEqual(normalizedDefault(schema, field, path))
    }
  })

  it('documents with @default every option that has a default other than "on with its own defaults"', () => {
    const tagged = new Set(defaultTags().map(({ where, field }) => `${where}.${field}`))
    for (const [where, schema] of Object.entries(SCHEMAS)) {
      for (const [field, spec] of Object.entries(shapeOf(schema)!)) {
        const onByDefault = typeof spec.default === 'object' && spec.default !== null && Object.keys(spec.default).length === 0
        if (spec.default === undefined || onByDefault) continue
        expect(tagged.has(`${where}.${field}`), `${where}.${field} has a default but no @default tag`).toBe(true)
      }
    }
  })

  it('the prose defaults say what the schema does', () => {
    const o = normalizeOptions(undefined)
    expect(o.fetch).toBeUndefined()
    expect(o.key).toBeUndefined()
    expect(o.retry).toMatchObject({ limit: 2 })
    expect(o.isFailure.name).toBe('isFailureDefault')
  })

  it("holds the README's defaults block to the schema: every default, spelled out, is what createResilientFetch() uses", () => {
    const block = /```ts\n([\s\S]*?)```/.exec(README.slice(README.indexOf('## Use')))![1]!
    const literal = /const defaults = (\{[\s\S]*?\n\})/.exec(block)![1]!
    const defaults = evaluate(literal) as Record<string, unknown>
    expect(normalizeOptions(defaults as never)).toEqual(normalizeOptions(undefined))
    // Spelled out: every option with a default appears, and every defaulted field of the enabled ones.
    for (const [field, spec] of Object.entries(shapeOf(optionsSchema)!)) {
      // Functions (the classifier) are not data: the README names them in prose.
      if (spec.default !== undefined && typeof spec.default !== 'function') expect(defaults, field).toHaveProperty(field)
      const nested = NESTED[field]
      if (nested === undefined) continue
      for (const [inner, innerSpec] of Object.entries(nested)) {
        if (innerSpec.default !== undefined) expect(defaults[field], `${field}.${inner}`).toHaveProperty(inner)
      }
    }
  })
})

describe('option errors say what is wrong, naming the path and the value', () => {
  const cases: [string, unknown, RegExp | string][] = [
    ["timeout: '3000'", { timeout: '3000' }, 'timeout must be a number, got "3000" (a string: write 3000 without quotes)'],
    ['timeout: NaN', { timeout: NaN }, 'timeout must be a number, got NaN'],
    ['timeout.attempt > timeout.total', { timeout: { attempt: 5_000, total: 1_000 } }, 'timeout.attempt (5000 ms) must not exceed timeout.total (1000 ms)'],
    ['a number timeout past the default total', { timeout: 60_000 }, 'timeout (60000 ms) must not exceed the total deadline (30000 ms by default)'],
    ['a duration past the timer limit', { bulkhead: { queueTimeout: 2 ** 31 } }, `bulkhead.queueTimeout must be at most ${MAX_DURATION} ms, got 2147483648`],
    ['an open duration past the timer limit', { breaker: { openDuration: 1e12 } }, /breaker\.openDuration must be at most 2147483647 ms/],
    ['retry.backoff.base as a string', { retry: { backoff: { base: '300' } } }, 'retry.backoff.base must be a number, got "300" (a string: write 300 without quotes)'],
  ]
  it.each(cases)('%s', (_name, options, message) => {
    expect(() => createResilientFetch(options as never)).toThrow(message)
  })

  it('an attempt deadline past a total written beside it is refused; past a default or per-call total it is cut by it', () => {
    expect(normalizeOptions({ timeout: { total: 200 } }).timeout).toEqual({ attempt: 10_000, total: 200 })
    expect(normalizeOptions({ timeout: { attempt: 200, total: 200 } }).timeout).toEqual({ attempt: 200, total: 200 })
  })

  it('wrong types are TypeErrors, out-of-range values RangeErrors', () => {
    expect(() => createResilientFetch({ timeout: '3000' as never })).toThrow(TypeError)
    expect(() => createResilientFetch({ timeout: { attempt: 5_000, total: 1_000 } })).toThrow(RangeError)
    expect(() => createResilientFetch({ bulkhead: { queueTimeout: 2 ** 31 } })).toThrow(RangeError)
  })

  it('Infinity where it means no limit: no deadline, any age of a copy served, any Retry-After honoured', () => {
    const o = normalizeOptions({ fallback: { maxAge: Infinity }, retry: { maxRetryAfter: Infinity }, timeout: { attempt: Infinity, total: Infinity } })
    expect(o.fallback && o.fallback.maxAge).toBe(Infinity)
    expect(o.retry && o.retry.maxRetryAfter).toBe(Infinity)
    expect(o.timeout).toEqual({ attempt: false, total: false })
    expect(() => normalizeOptions({ bulkhead: { queueTimeout: Infinity } })).toThrow(/bulkhead\.queueTimeout must be a positive finite number of ms, got Infinity/)
  })

  it('per-call options are checked with the same messages, under resilience.', async () => {
    const rf = createResilientFetch({ fetch: async () => new Response('ok'), fallback: false })
    await expect(rf('https://a.test/', { resilience: { timeout: '3000' as never } })).rejects.toThrow('resilience.timeout must be a number, got "3000" (a string: write 3000 without quotes)')
    await expect(rf('https://a.test/', { resilience: { priority: 'urgent' as never } })).rejects.toThrow(`resilience.priority must be 'high', 'normal' or 'low', got "urgent"`)
    await expect(rf('https://a.test/', { resilience: { hedge: 1 as never } })).rejects.toThrow('resilience.hedge must be a boolean, got 1')
  })
})

/** The other entry points' option interfaces (in their own files), with the fields of the schema that checks them. */
const ELSEWHERE: { file: string; where: string; fields: Record<string, { check: Check<unknown>; default?: unknown }>; prose?: string[] }[] = [
  { file: 'store/memory.ts', where: 'MemoryStoreOptions', fields: shapeOf(memoryStoreSchema)! },
  { file: 'store/idb.ts', where: 'IdbStoreOptions', fields: shapeOf(idbStoreSchema)! },
  { file: 'store/cache.ts', where: 'CacheStoreOptions', fields: shapeOf(cacheStoreSchema)! },
  { file: 'store/kv.ts', where: 'KvStoreOptions', fields: shapeOf(kvStoreSchema)! },
  { file: 'share/tabs.ts', where: 'ShareAcrossTabsOptions', fields: shapeOf(shareAcrossTabsSchema)! },
  // The fleet breaker's fields are documented inline, under `breaker`.
  {
    file: 'worker/share.ts',
    where: 'DurableObjectShareOptions',
    fields: { ...shapeOf(durableObjectShareSchema)!, ...shapeOf(shapeOf(durableObjectShareSchema)!.breaker!.check)! },
  },
  { file: 'worker/config.ts', where: 'ProxyConfig', fields: shapeOf(proxyConfigSchema)!, prose: ['fetch', 'lastKnownGood', 'store', 'coordinator', 'hedge'] },
]

describe('one schema for every entry point: stores, share, proxy', () => {
  it.each(ELSEWHERE)('$where: every @default tag is the default its schema applies', ({ file, where, fields, prose }) => {
    const source = readFileSync(new URL(`../src/${file}`, import.meta.url), 'utf8')
    const tags = defaultTags(source, { [where]: fields })
    expect(tags.length).toBeGreaterThan(0)
    for (const { field, text } of tags) {
      const spec = fields[field]
      expect(spec, `${where}.${field} is documented but not in the schema`).toBeDefined()
      if (prose?.includes(field)) continue
      expect(spec!.check(evaluate(text), field), `${where}.${field}: @default ${text}`).toEqual(spec!.check(spec!.default, field))
    }
    // And every default the schema applies is documented.
    const tagged = new Set(tags.map((tag) => tag.field))
    for (const [field, spec] of Object.entries(fields)) {
      const onByDefault = typeof spec.default === 'object' && spec.default !== null && !Array.isArray(spec.default) && Object.keys(spec.default).length === 0
      if (spec.default !== undefined && !onByDefault) expect(tagged.has(field), `${where}.${field} has a default but no @default tag`).toBe(true)
    }
  })

  const kv = { getWithMetadata: async () => ({ value: null, metadata: null }), put: async () => {}, delete: async () => {}, list: async () => ({ keys: [], list_complete: true }) } as KvNamespaceLike
  const ns = { idFromName: () => ({}), get: () => ({ fetch: async () => new Response('{}') }) } as unknown as CoordinatorNamespace
  const hint = (path: string, text: string) => `${path} must be a number, got "${text}" (a string: write ${text} without quotes)`

  it.each([
    ['memoryStore', () => memoryStore({ maxEntries: '5' as never }), hint('memoryStore options.maxEntries', '5')],
    ['idbStore', () => idbStore({ maxEntries: '5' as never }), hint('idbStore options.maxEntries', '5')],
    ['cacheStore', () => cacheStore({ maxEntries: '5' as never }), hint('cacheStore options.maxEntries', '5')],
    ['kvStore', () => kvStore(kv, { expirationTtl: '60' as never }), hint('kvStore options.expirationTtl', '60')],
    ['shareAcrossTabs', () => shareAcrossTabs({ nmae: 'x' } as never), 'shareAcrossTabs options.nmae is not an option (known: name)'],
    ['durableObjectShare', () => durableObjectShare(ns, { breaker: { probes: '2' as never } }), hint('durableObjectShare options.breaker.probes', '2')],
    ['createProxy', () => createProxy({ upstream: 'http://127.0.0.1:9', timeout: NaN }), 'timeout must be a number, got NaN'],
    ['configFromEnv', () => configFromEnv({ UPSTREAM_URL: 'http://127.0.0.1:9', WINDOW_MS: '1.5' }), 'WINDOW_MS must be a positive integer, got 1.5'],
  ])('%s checks its options with the schema\'s checks and messages', (_name, create, message) => {
    expect(create).toThrow(message)
  })
})
