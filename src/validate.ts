/** A value as an error message shows it: strings quoted, objects as JSON, functions by kind. */
export function show(value: unknown): string {
  if (typeof value === 'function') return 'a function'
  try {
    // JSON for strings and objects; numbers (NaN, Infinity), bigints, symbols, undefined as written.
    return typeof value === 'string' || typeof value === 'object' ? JSON.stringify(value) : typeof value === 'bigint' ? `${value}n` : String(value)
  } catch {
    // A cycle, or a toJSON that throws.
    return Object.prototype.toString.call(value)
  }
}
