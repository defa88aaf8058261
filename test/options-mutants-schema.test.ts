/**
 * The schema's building blocks, as every entry point (core, stores, share, proxy) uses them (pinned after mutation
 * testing the option schema): a field's default is checked like a value given; with a base, an absent field is the
 * base's; a refinement keeps its object's shape; a value is shown as the error message shows it.
 */
import { describe, expect, it } from 'vitest'
import { MAX_DURATION, fail, is, number, optional, positiveInteger, refine, shapeOf, string, struct, withMethods } from '../src/schema.js'
import { show } from '../src/validate.js'
import { thrown } from './helpers.js'


describe('the checks every entry point shares', () => {
  it('a duration is at most what a timer holds: 2^31-1 ms', () => {
    expect(MAX_DURATION).toBe(2 ** 31 - 1)
  })

  it('string: any string, the empty one too; anything else a TypeError', () => {
    expect(string('', 'p')).toBe('')
    expect(thrown(() => string(5, 'p'))).toBe('TypeError: p must be a string, got 5')
  })

  it('fail: a RangeError unless the value has the wrong type', () => {
    expect(thrown(() => fail('p', 'small', 7))).toBe('RangeError: p must be small, got 7')
    expect(thrown(() => fail('p', 'a number', ' 7 ', true))).toBe('TypeError: p must be a number, got " 7 " (a string: write 7 without quotes)')
    expect(thrown(() => is((v) => v === 1, 'one')(2, 'p'))).toBe('RangeError: p must be one, got 2')
  })

  it('withMethods: the first method missing is named', () => {
    const check = withMethods('a Thing', ['a', 'b'])
    const thing = { a() {}, b() {} }
    expect(check(thing, 'p')).toBe(thing)
    expect(thrown(() => check({ b() {} }, 'p'))).toBe('TypeError: p must be a Thing (missing a()), got {}')
    expect(thrown(() => check({ a() {} }, 'p'))).toBe('TypeError: p must be a Thing (missing b()), got {}')
    expect(thrown(() => check(undefined, 'p'))).toBe('TypeError: p must be a Thing, got undefined')
    expect(thrown(() => check(null, 'p'))).toBe('TypeError: p must be a Thing, got null')
  })

  it('optional: absent stays absent, anything else is checked', () => {
    expect(optional(number)(undefined, 'p')).toBeUndefined()
    expect(thrown(() => optional(number)(null, 'p'))).toBe('TypeError: p must be a number, got null')
  })
})

describe('struct: an object schema', () => {
  const schema = struct({ size: [positiveInteger, 3], name: optional(string) })

  it('a default is checked like a value given', () => {
    expect(thrown(() => struct({ size: [positiveInteger, 0] })(undefined, 'thing'))).toBe('RangeError: thing.size must be a positive integer, got 0')
  })

  it('absent: the default; given: checked, under the path (or the field alone at the top)', () => {
    expect(schema(undefined, 'thing')).toStrictEqual({ size: 3, name: undefined })
    expect(schema({ size: 4, name: 'n' }, 'thing')).toStrictEqual({ size: 4, name: 'n' })
    expect(thrown(() => schema({ size: 0 }, 'thing'))).toBe('RangeError: thing.size must be a positive integer, got 0')
    expect(thrown(() => schema({ size: 0 }, ''))).toBe('RangeError: size must be a positive integer, got 0')
    expect(thrown(() => schema({ sise: 4 }, ''))).toBe('TypeError: options.sise is not an option (known: size, name)')
  })

  it('with a base: an absent field is the base’s, not the default; a field given replaces it', () => {
    const base = { size: 9, name: 'base' }
    expect(schema({}, 'thing', base)).toStrictEqual(base)
    expect(schema({ name: 'call' }, 'thing', base)).toStrictEqual({ size: 9, name: 'call' })
    expect(thrown(() => schema({ size: -1 }, 'thing', base))).toBe('RangeError: thing.size must be a positive integer, got -1')
  })

  it('shapeOf: each field with its check and default, through a refinement; undefined for a check that is not an object schema', () => {
    const refined = refine(schema, (value) => ({ ...value, refined: true }))
    expect(refined({}, 'thing')).toStrictEqual({ size: 3, name: undefined, refined: true })
    expect(shapeOf(refined)).toStrictEqual({ size: { check: positiveInteger, default: 3 }, name: { check: schema.shape.name, default: undefined } })
    expect(shapeOf(number)).toBeUndefined()
  })
})

describe('show: a value as an error message shows it', () => {
  it.each([
    ['a string, quoted', 'x', '"x"'],
    ['an object, as JSON', { a: [1] }, '{"a":[1]}'],
    ['null', null, 'null'],
    ['undefined', undefined, 'undefined'],
    ['a number', -0.5, '-0.5'],
    ['NaN', NaN, 'NaN'],
    ['a bigint', 12n, '12n'],
    ['a symbol', Symbol('s'), 'Symbol(s)'],
    ['a function', () => {}, 'a function'],
    ['a class', class {}, 'a function'],
    ['an object holding a bigint (no JSON for it)', { n: 1n }, '[object Object]'],
    ['an object whose toJSON throws', { toJSON: () => { throw new Error('no') } }, '[object Object]'],
  ])('%s', (_name, value, shown) => {
    expect(show(value)).toBe(shown)
  })
})
