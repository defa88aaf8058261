/**
 * The option schema: each option's check and default, in one place. The normalized option types are
 * derived from it (`Checked<typeof …>`); the documentation of each option is its JSDoc in types.ts,
 * and test/schema.test.ts holds every `@default` there, and the README's defaults, to the defaults
 * here. Errors name the option path and the value: `breaker.failureThreshold must be a positive
 * integer, got -1`. The small checkers are exported for every other entry point (stores, proxy, share).
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
export function fail(path: string, what: string, value: unknown, wrongType = false): never {
  // A number written as a string is the commonest slip: say so.
  const hint = typeof value === 'string' && value.trim() !== '' && !Number.isNaN(Number(value)) ? ` (a string: write ${value.trim()} without quotes)` : ''
  const message = `${path} must be ${what}, got ${show(value)}${hint}`
  throw wrongType ? new TypeError(message) : new RangeError(message)
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** An object whose keys are all in `known` (a typo is named). */
export function record(value: unknown, path: string, known: readonly string[]): Record<string, unknown> {
  const name = path === '' ? 'options' : path
  if (!isPlainObject(value)) fail(name, 'an object', value, true)
  for (const k of Object.keys(value)) {
    if (!known.includes(k)) throw new TypeError(`${name}.${k} is not an option (known: ${known.join(', ')})`)
  }
  return value
}

export const number: Check<number> = (value, path) => {
  if (typeof value !== 'number' || Number.isNaN(value)) fail(path, 'a number', value, true)
  return value
}

export const positiveInteger: Check<number> = (value, path) => {
  if (!Number.isSafeInteger(number(value, path)) || (value as number) < 1) fail(path, 'a positive integer', value)
  return value as number
}

export const nonNegativeInteger: Check<number> = (value, path) => {
  if (!Number.isSafeInteger(number(value, path)) || (value as number) < 0) fail(path, 'a non-negative integer', value)
  return value as number
}

/** A share, 0..1. */
export const ratio: Check<number> = (value, path) => {
  const n = number(value, path)
  if (!(n >= 0 && n <= 1)) fail(path, 'a number from 0 to 1', value)
  return n
}

/** A deadline in ms: a duration, or false or Infinity for none (false). */
export const deadline: Check<number | false> = (value, path) => (value === false || value === Infinity ? false : duration(value, path))

/** A duration in ms that a timer may wait: > 0, at most MAX_DURATION. */
export const duration: Check<number> = (value, path) => {
  if (!(number(value, path) > 0) || value === Infinity) fail(path, 'a positive finite number of ms', value)
  // Past this setTimeout fires at once: refused, not clamped.
  if ((value as number) > MAX_DURATION) fail(path, `at most ${MAX_DURATION} ms (about 24.8 days, the longest a timer waits)`, value)
  return value as number
}

/** A limit in ms, never waited for as such: >= 0; Infinity means no limit. */
export const limit: Check<number> = (value, path) => {
  if (!(number(value, path) >= 0)) fail(path, 'a non-negative number of ms (Infinity: no limit)', value)
  return value as number
}

/** A limit in ms that must leave some room: > 0; Infinity means no limit. */
export const positiveLimit: Check<number> = (value, path) => {
  if (!(number(value, path) > 0)) fail(path, 'a positive number of ms (Infinity: no limit)', value)
  return value as number
}

export const boolean: Check<boolean> = (value, path) => {
  if (typeof value !== 'boolean') fail(path, 'a boolean', value, true)
  return value
}

export function func<F>(value: unknown, path: string): F {
  if (typeof value !== 'function') fail(path, 'a function', value, true)
  return value as F
}

export const nonEmptyString: Check<string> = (value, path) => {
  if (typeof value !== 'string' || value === '') fail(path, 'a non-empty string', value, true)
  return value
}

/** One of a few literal values. */
export function oneOf<const T extends readonly unknown[]>(values: T): Check<T[number]> {
  const listed = values.map((v) => (typeof v === 'string' ? `'${v}'` : show(v))).join(', ').replace(/, ([^,]*)$/, ' or $1')
  return (value, path) => (values.includes(value) ? (value as T[number]) : fail(path, listed, value, true))
}

/** HTTP method names, upper-cased. */
export const methods: Check<ReadonlySet<string>> = (value, path) => {
  if (!Array.isArray(value) || value.some((m) => typeof m !== 'string' || m === '')) fail(path, 'an array of method names', value, true)
  return new Set((value as string[]).map((m) => m.toUpperCase()))
}

export const statusCodes: Check<ReadonlySet<number>> = (value, path) => {
  if (!Array.isArray(value) || value.some((c) => !Number.isInteger(c) || c < 100 || c > 599)) fail(path, 'an array of HTTP status codes (100-599)', value, true)
  return new Set(value as number[])
}

/** `false` turns the option off; anything else goes to `check`. */
export function orFalse<T>(check: Check<T>): Check<T | false> {
  return (value, path) => (value === false ? false : check(value, path))
}

/** Absent (undefined) stays absent. */
export function optional<T>(check: Check<T>): Check<T | undefined> {
  return (value, path) => (value === undefined ? undefined : check(value, path))
}

/** One option of an object: its check and its default (an input value, checked like one given). */
export interface Field<T> {
  readonly check: Check<T>
  readonly default?: unknown
}

type Shape = Record<string, Field<unknown>>
type Out<S extends Shape> = { [K in keyof S]: S[K] extends Field<infer T> ? T : never }

/** An object schema: its fields are the object's only options; `shape` lists them with their defaults. */
export interface Struct<S extends Shape> extends Check<Out<S>> {
  readonly shape: S
}

/** Checks an object field by field (absent → the default, checked too); unknown keys are named. */
export function struct<S extends Shape>(shape: S): Struct<S> {
  const keys = Object.keys(shape)
  const check = (value: unknown, path: string) => {
    const given = record(value === undefined ? {} : value, path, keys)
    const out: Record<string, unknown> = {}
    for (const k of keys) {
      const field = shape[k]!
      out[k] = field.check(given[k] === undefined ? field.default : given[k], path === '' ? k : `${path}.${k}`)
    }
    return out as Out<S>
  }
  return Object.assign(check, { shape })
}

/** A check followed by a transformation of its result (a cross-field rule, a different shape). */
export function refine<T, U>(check: Check<T>, after: (value: T, path: string) => U): Check<U> {
  // An object schema keeps its `shape` (its fields and defaults) through a refinement.
  return Object.assign((value: unknown, path: string) => after(check(value, path), path), { shape: (check as Partial<Struct<Shape>>).shape })
}

/** The fields of an object schema (through refinements), or undefined. */
export function shapeOf(check: Check<unknown>): Shape | undefined {
  return (check as Partial<Struct<Shape>>).shape
}
