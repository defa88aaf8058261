/**
 * The key of a call is the origin of the URL fetch would send it to, whatever the input's form:
 * a URL object or any object fetch stringifies gets the resilience a string does; a relative URL
 * is read against the page's base even when its path holds an absolute URL; a URL whose origin is
 * opaque ('null') is its own key, not one shared by every such URL.
 */
import { afterEach, describe, expect, it, vi } from 'vitest'
import { createResilientFetch, resilienceInfo } from '../src/index.js'
import { originOf } from '../src/url.js'
import { statusTransport } from './helpers.js'

afterEach(() => {
  vi.unstubAllGlobals()
  vi.useRealTimers()
})

describe('inputs that are not strings', () => {
  const INPUTS: [string, () => URL | { toString(): string }][] = [
    ['a URL', () => new URL('https://a.test/x')],
    // What fetch accepts too (it stringifies the input): e.g. a URL from another realm, which is no `instanceof URL` here.
    ['an object fetch stringifies', () => ({ toString: () => 'https://a.test/x' })],
  ]

  it.each(INPUTS)('%s is keyed by its origin and retried like a string', async (_, input) => {
    vi.useFakeTimers()
    const t = statusTransport(503, 200)
    const rf = createResilientFetch({ fetch: t.fetch, fallback: false, timeout: false, retry: { limit: 1, backoff: { base: 100, jitter: 'none' } } })
    const pending = rf(input() as URL)
    await vi.runAllTimersAsync()
    const response = await pending
    expect(response.status).toBe(200)
    expect(t.mock).toHaveBeenCalledTimes(2)
    expect(resilienceInfo(response)).toMatchObject({ source: 'network', key: 'https://a.test', attempts: 2 })
  })
})

describe('originOf reads what the URL parser reads', () => {
  it('a relative URL whose path holds an absolute one is read against the base', () => {
    vi.stubGlobal('document', { baseURI: 'https://app.test/page/' })
    expect(originOf('/go/https://b.test/x')).toBe('https://app.test')
    expect(originOf('go/https://c.test/x')).toBe('https://app.test')
    expect(originOf('/proxy?to=http://d.test/')).toBe('https://app.test')
  })

  it('an https URL with an empty authority is read as the parser reads it (the host after the slashes)', () => {
    expect(originOf('https:///host.test/x')).toBe(new URL('https:///host.test/x').origin)
    expect(originOf('https:///host.test/x')).toBe('https://host.test')
  })

  it('a URL whose origin is opaque is its own key: two of them never share one', () => {
    expect(originOf('data:text/plain,one')).toBe('data:text/plain,one')
    expect(originOf('app://bundle/index.json')).toBe('app://bundle/index.json')
    expect(originOf('app://bundle/other.json')).toBe('app://bundle/other.json')
  })
})
