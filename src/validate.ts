/** A value as an error message shows it: strings quoted, objects as JSON, functions by kind. */
export function show(value: unknown): string {
  if (typeof value === 'function') return 'a function'
  if (typeof value === 'bigint') return `${value}n`
  try {
    return typeof value === 'string' || typeof value === 'object' ? JSON.stringify(value) : String(value)
  } catch {
    // A cycle, or a toJSON that throws.
    return Object.prototype.toString.call(value)
  }
}
