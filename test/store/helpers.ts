/** Shared bits for the store tests: entries and a stub store whose put can be made to fail. */
import type { Evictable } from '../../src/store/entry.js'
import type { FallbackStore, StoredResponse } from '../../src/types.js'

const encoder = new TextEncoder()

/** A StoredResponse with a text body; `bytes` pads the body to that size. */
export function entry(body = 'hello', overrides: Partial<StoredResponse> = {}): StoredResponse {
  return {
    url: 'https://api.example.com/items',
    status: 200,
    statusText: 'OK',
    headers: [['content-type', 'text/plain']],
    body: encoder.encode(body).buffer as ArrayBuffer,
    storedAt: 1_000,
    ...overrides,
  }
}

export function text(buffer: ArrayBuffer): string {
  return new TextDecoder().decode(buffer)
}

export function quotaError(): DOMException {
  return new DOMException('The quota has been exceeded.', 'QuotaExceededError')
}

/** Our stores' internal evict(), which the public FallbackStore type does not show. */
export function evictable(store: FallbackStore): FallbackStore & Evictable {
  return store as FallbackStore & Evictable
}
