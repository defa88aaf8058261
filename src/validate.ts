/** A value as an error message shows it: strings quoted, objects as JSON, functions by kind; `within`: the array it is an item of (map's third argument). */
export function show(value: unknown, _index?: number, within?: unknown[]): string {
  if (typeof value === 'function') return 'a function'
  try {
    // JSON for strings and objects, an array's own items one by one (JSON would show NaN or undefined there as null; an
    // array in it as JSON, so one holding itself is the cycle below); numbers (NaN, Infinity), bigints, symbols, undefined as written.
    return Array.isArray(value) && !within ? `[${value.map(show)}]` : typeof value === 'string' || typeof value === 'object' ? JSON.stringify(value) : typeof value === 'bigint' ? `${value}n` : String(value)
  } catch {
    // A cycle, or a toJSON that throws.
    return Object.prototype.toString.call(value)
  }
}
