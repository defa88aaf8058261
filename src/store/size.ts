import type { StoredResponse } from '../types.js'

// Apart from entry.ts: memoryStore (exported by the main entry) needs only this, and the rest of entry.ts then loads with the fallback chunk.
/** Rough bytes an entry takes: body plus headers and URL, for stores bounded by size. */
export function entrySize(entry: StoredResponse): number {
  let size = entry.body.byteLength + entry.url.length + entry.statusText.length + 16
  for (const [name, value] of entry.headers) size += name.length + value.length + 4
  return size
}
