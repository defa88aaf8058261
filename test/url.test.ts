import { afterEach, describe, expect, it, vi } from 'vitest'
import { originOf } from '../src/url.js'

afterEach(() => void vi.unstubAllGlobals())

describe('originOf', () => {
  it('reads plain origins without the parser and hands the rest to it', () => {
    expect(originOf('https://api.example.com/items?x=1')).toBe('https://api.example.com')
    expect(originOf('http://127.0.0.1:8080/x')).toBe('http://127.0.0.1:8080')
    expect(originOf('https://EXAMPLE.com/x')).toBe('https://example.com')
    expect(originOf('https://1.2.3.0x4/')).toBe('https://1.2.3.4')
    expect(originOf('not a url')).toBeUndefined()
  })

  it('a URL read twice against another base is read again: the last origin is reused only for the same base', () => {
    vi.stubGlobal('document', { baseURI: 'https://one.test/app/' })
    expect(originOf('items')).toBe('https://one.test')
    expect(originOf('items')).toBe('https://one.test')
    vi.stubGlobal('document', { baseURI: 'https://two.test/' })
    expect(originOf('items')).toBe('https://two.test')
    // Same scheme as the base, no authority: relative to it, as the parser reads it.
    expect(originOf('https:/x')).toBe('https://two.test')
    vi.stubGlobal('document', { baseURI: 'https://three.test/' })
    expect(originOf('https:/x')).toBe('https://three.test')
    // Scheme and authority: the same whatever the base.
    expect(originOf('http://a.test:81/')).toBe('http://a.test:81')
    vi.stubGlobal('document', undefined)
    expect(originOf('http://a.test:81/')).toBe('http://a.test:81')
    expect(originOf('items')).toBeUndefined()
  })
})
