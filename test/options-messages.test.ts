import { describe, expect, it } from 'vitest'
import { createResilientFetch } from '../src/index.js'

/** The message of what `create` throws. */
function message(create: () => unknown): string {
  try {
    create()
  } catch (error) {
    return (error as Error).message
  }
  return 'no error'
}

describe('"write it without quotes" is said only where a number is what the option takes', () => {
  it.each([
    ['a boolean', { coalesce: '1' }, 'coalesce must be a boolean, got "1"'],
    ['a boolean inside an object', { fallback: { private: '0' } }, 'fallback.private must be a boolean, got "0"'],
    ['an object that takes no number', { breaker: '5' }, 'breaker must be an object, got "5"'],
    ['a list', { retry: { statusCodes: '503' } }, 'retry.statusCodes must be an array of HTTP status codes (100-599), got "503"'],
    ['one of a few words', { retry: { backoff: { jitter: '0' } } }, `retry.backoff.jitter must be 'full', 'equal' or 'none', got "0"`],
  ])('%s: no hint that writing the number would do', (_name, options, expected) => {
    expect(message(() => createResilientFetch(options as never))).toBe(expected)
  })

  it.each([
    ['retry, which takes a number (its limit)', { retry: '3' }, 'retry.limit must be a number, got "3" (a string: write 3 without quotes)'],
    ['breaker.openDuration, which takes a number of ms', { breaker: { openDuration: '30000' } }, 'breaker.openDuration must be a number, got "30000" (a string: write 30000 without quotes)'],
    ['hedge.delay', { hedge: { delay: '95' } }, `hedge.delay must be a number of ms or 'p90', 'p95', 'p99', got "95" (a string: write 95 without quotes)`],
    ['timeout', { timeout: ' 3000 ' }, 'timeout must be a number, got " 3000 " (a string: write 3000 without quotes)'],
  ])('%s: the hint stays', (_name, options, expected) => {
    expect(message(() => createResilientFetch(options as never))).toBe(expected)
  })

  it('per call too: resilience.priority takes no number', async () => {
    const rf = createResilientFetch({ fetch: async () => new Response('ok'), fallback: false })
    await expect(rf('https://a.test/', { resilience: { priority: '1' as never } })).rejects.toThrow(new TypeError(`resilience.priority must be 'high', 'normal' or 'low', got "1"`))
    await expect(rf('https://a.test/', { resilience: { retry: '2' as never } })).rejects.toThrow(new TypeError('resilience.retry.limit must be a number, got "2" (a string: write 2 without quotes)'))
  })

  it('other wrong types: retry: true, openDuration: true, retry: null', () => {
    expect(message(() => createResilientFetch({ retry: true as never }))).toBe('retry.limit must be a number, got true')
    expect(message(() => createResilientFetch({ breaker: { openDuration: true as never } }))).toBe('breaker.openDuration must be a number, got true')
    expect(message(() => createResilientFetch({ retry: null as never }))).toBe('retry must be an object, got null')
  })
})
