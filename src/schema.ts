/**
 * The option schema: each option's check and default, in one place. The normalized option types are
 * derived from it (`Checked<typeof …>`); the documentation of each option is its JSDoc in types.ts,
 * and test/schema.test.ts holds every `@default` there, and the README's defaults, to the defaults
 * here. Errors name the option path and the value: `breaker.failureThreshold must be a positive
 * integer, got -1`. Every entry point checks its options with these (core, stores, proxy, share).
 */
import { show } from './validate.js'
import { MAX_TIMER_MS } from './deadline.js'

/** Checks `value` found at `path`, returning it normalized, or throws a TypeError/RangeError naming both. */
export type Check<T> = (value: unknown, path: string) => T

/** What a check returns. */
export type Checked<C> = C extends Check<infer T> ? T : never

/** The longest delay a timer can hold (2^31−1 ms, about 24.8 days): every duration a timer waits is bounded by it. */
export const MAX_DURATION = MAX_TIMER_MS

/** Throws for `value` at `path`: a TypeError when it has the wrong type, a RangeError when it is out of range. */
export function fail(path: string, what: string, value: unknown, wrongType?: boolean): never {
  throw new (wrongType ? TypeError : RangeError)(
    // A number written as a string is the commonest slip: say so, where a number is what it must be.
    `${path} must be ${what}, got ${show(value)}${typeof value === 'string' && /number/.test(what) && value.trim() && !isNaN(+value) ? ` (a string: write ${value.trim()} without quotes)` : ''}`,
  )
}

/** A check from a test: `what` says what the value must be; `wrongType` makes the error a TypeError. */
export const is =
  <T>(test: (value: any) => unknown, what: string, wrongType?: boolean): Check<T> =>
  (value, path) =>
    test(value) ? (value as T) : fail(path, what, value, wrongType)

export const isPlainObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value)

/** An object whose keys are all in `known` (a typo is named). */
export function record(value: unknown, path: string, known: readonly string[]): Record<string, unknown> {
  const name = path || 'options'
  if (!isPlainObject(value)) fail(name, 'an object', value, true)
  for (const k of Object.keys(value)) if (!known.includes(k)) throw new TypeError(`${name}.${k} is not an option (known: ${known.join(', ')})`)
  return value
}

export const number = /* @__PURE__ */ is<number>((value) => typeof value === 'number' && value === value, 'a number', true)

/** A number (a TypeError otherwise) that passes `test` (a RangeError otherwise). */
export const numberIs =
  (test: (n: number) => unknown, what: string): Check<number> =>
  (value, path) =>
    test(number(value, path)) ? (value as number) : fail(path, what, value)

export const positiveInteger = /* @__PURE__ */ numberIs((n) => Number.isSafeInteger(n) && n > 0, 'a positive integer')

export const nonNegativeInteger = /* @__PURE__ */ numberIs((n) => Number.isSafeInteger(n) && n >= 0, 'a non-negative integer')

/** A share, 0..1. */
export const ratio = /* @__PURE__ */ numberIs((n) => n >= 0 && n <= 1, 'a number from 0 to 1')

/** A number >= 1 that stays finite (a multiplier, a factor). */
export const factor = /* @__PURE__ */ numberIs((n) => n >= 1 && n < Infinity, 'a finite number >= 1')

const positiveFinite = /* @__PURE__ */ numberIs((n) => n > 0 && n < Infinity, 'a positive finite number of ms')
// Past this setTimeout fires at once: refused, not clamped.
const timerBound = /* @__PURE__ */ numberIs((n) => n <= MAX_TIMER_MS, `at most ${MAX_TIMER_MS} ms`)

/** A duration in ms that a timer may wait: > 0, at most MAX_DURATION. */
export const duration: Check<number> = (value, path) => timerBound(positiveFinite(value, path), path)

/** A deadline in ms: a duration, or false or Infinity for none (false). */
export const deadline: Check<number | false> = (value, path) => (value === false || value === Infinity ? false : duration(value, path))

/** A limit in ms, never waited for as such: >= 0; Infinity means no limit. */
export const limit = /* @__PURE__ */ numberIs((n) => n >= 0, 'a non-negative number of ms (Infinity: no limit)')

/** A limit in ms that must leave some room: > 0; Infinity means no limit. */
export const positiveLimit = /* @__PURE__ */ numberIs((n) => n > 0, 'a positive number of ms (Infinity: no limit)')

export const boolean = /* @__PURE__ */ is<boolean>((value) => typeof value === 'boolean', 'a boolean', true)

export const string = /* @__PURE__ */ is<string>((value) => typeof value === 'string', 'a string', true)

export const nonEmptyString = /* @__PURE__ */ is<string>((value) => typeof value === 'string' && value !== '', 'a non-empty string', true)

export const func = /* @__PURE__ */ is((value) => typeof value === 'function', 'a function', true) as <F = (...args: never[]) => unknown>(value: unknown, path: string) => F

/** The value as given, unchecked (checked where it is used). */
export const anything = <T = unknown>(value: unknown): T => value as T

/** One of a few (at least two) literal values. */
export const oneOf = <const T extends readonly [string, string, ...string[]]>(values: T): Check<T[number]> =>
  is(
    (value) => values.includes(value as string),
    // 'a', 'b' or 'c'
    `'${values.slice(0, -1).join("', '")}' or '${values.at(-1)}'`,
    true,
  )

/** An object with these methods (a store, a share, a binding); `what` names it in the error. */
export const withMethods =
  <T>(what: string, methods: readonly string[]): Check<T> =>
  (value, path) => {
    if (typeof value !== 'object' || value === null) fail(path, what, value, true)
    for (const m of methods) if (typeof (value as Record<string, unknown>)[m] !== 'function') fail(path, `${what} (missing ${m}())`, value, true)
    return value as T
  }

/** An array whose items pass `test`, as a Set of its items (or of those `map` makes). */
const setOf =
  <T>(test: (item: any) => unknown, what: string, map?: (item: T) => T): Check<ReadonlySet<T>> =>
  (value, path) =>
    Array.isArray(value) && value.every(test) ? new Set(map ? value.map(map) : value) : fail(path, what, value, true)

/** HTTP method names, upper-cased. Each an HTTP token: a ' HEAD' or 'GET,HEAD' would match no call. */
export const methods = /* @__PURE__ */ setOf<string>((m) => typeof m === 'string' && /^[\w!#$%&'*+.^`|~-]+$/.test(m), 'an array of method names', (m) => m.toUpperCase())

export const statusCodes = /* @__PURE__ */ setOf<number>((c) => Number.isInteger(c) && c >= 100 && c <= 599, 'an array of HTTP status codes (100-599)')

/** `false` turns the option off; anything else goes to `check`. */
export const orFalse =
  <T>(check: Check<T>): Check<T | false> =>
  (value, path) =>
    value === false ? false : check(value, path)

/** Absent (undefined) stays absent. */
export const optional =
  <T>(check: Check<T>): Check<T | undefined> =>
  (value, path) =>
    value === undefined ? undefined : check(value, path)

/**
 * One option of an object: its check alone (no default), or `[check, default]` (the default is an
 * input value, checked like one given).
 */
export type Field<T = any> = Check<T> | readonly [Check<T>, unknown]

type Shape = Record<string, Field>
type Out<S extends Shape> = { [K in keyof S]: S[K] extends Field<infer T> ? T : never }

/**
 * An object schema: its fields are the object's only options; `shape` lists them with their defaults.
 * With `base` (an object it returned before), an absent field is base's, not the default (without one, or with false, the default).
 */
export interface Struct<S extends Shape> extends Check<Out<S>> {
  (value: unknown, path: string, base?: Out<S> | false): Out<S>
  readonly shape: S
}

/** Checks an object field by field (absent → base's field, else the default, checked too); unknown keys are named. */
export function struct<const S extends Shape>(shape: S): Struct<S> {
  const keys = Object.keys(shape)
  const check = (value: unknown, path: string, base?: Record<string, unknown> | false) => {
    const given = record(value === undefined ? {} : value, path, keys)
    const out: Record<string, unknown> = {}
    for (const k of keys) {
      const [field, fallback] = [shape[k]!].flat() as [Check<unknown>, unknown?]
      out[k] = given[k] === undefined && base ? base[k] : field(given[k] === undefined ? fallback : given[k], path ? `${path}.${k}` : k)
    }
    return out
  }
  return Object.assign(check, { shape }) as Struct<S>
}

/** A check followed by a transformation of its result (a cross-field rule, a different shape). */
export const refine = <T, U>(check: Check<T>, after: (value: T, path: string) => U): Check<U> =>
  // An object schema keeps its `shape` (its fields and defaults) through a refinement.
  Object.assign((value: unknown, path: string) => after(check(value, path), path), { shape: (check as Partial<Struct<Shape>>).shape })

/** The fields of an object schema (through refinements), each as its check and its default; undefined for other checks. */
export function shapeOf(check: Check<unknown>): Record<string, { check: Check<unknown>; default?: unknown }> | undefined {
  const shape = (check as Partial<Struct<Shape>>).shape
  if (shape === undefined) return undefined
  const fields: Record<string, { check: Check<unknown>; default?: unknown }> = {}
  for (const [k, field] of Object.entries(shape)) {
    const [fieldCheck, fallback] = [field].flat() as [Check<unknown>, unknown?]
    fields[k] = { check: fieldCheck, default: fallback }
  }
  return fields
}
