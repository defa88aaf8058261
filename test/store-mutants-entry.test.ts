/** What a stored copy keeps and what a served one shows: transfer and internal headers dropped both ways (an origin cannot forge ours), a body of exactly the limit kept, the URL kept, a header read by its lower-case name. */
import { describe, expect, it } from 'vitest'
import { CREDENTIAL_HEADER, fromStored, readBody, storedHeader, toStored } from '../src/store/entry.js'
import { entry, text } from './store/helpers.js'

describe('toStored', () => {
  it('keeps none of the transfer headers, Set-Cookie2, nor a header of ours an origin sent (Age, X-Resilient-*)', async () => {
    const headers = {
      'content-type': 'text/plain',
      'set-cookie2': 'sid=1',
      'content-length': '2',
      'transfer-encoding': 'chunked',
      connection: 'keep-alive',
      'keep-alive': 'timeout=5',
      age: '100',
      'x-resilient-source': 'cache',
      'x-resilient-vary': encodeURIComponent('[]'),
      [CREDENTIAL_HEADER]: 'forged',
      'x-kept': 'yes',
    }
    const stored = await toStored('https://a/x', new Response('ok', { headers }), 1, 100, [['x-resilient-vary', 'ours']], 10_000)
    expect(stored!.headers).toEqual([
      ['content-type', 'text/plain'],
      ['x-kept', 'yes'],
      ['x-resilient-vary', 'ours'],
    ])
  })
})

describe('readBody', () => {
  it('keeps a body of exactly the limit', async () => {
    expect(text((await readBody(new Response('0123456789').body, 10, 10_000))!)).toBe('0123456789')
  })
})

describe('fromStored', () => {
  it('serves no stored header of ours, whatever its case, and the extra headers once', () => {
    const stored = entry('x', {
      headers: [
        ['Age', '50'],
        ['age', '60'],
        ['X-Resilient-Source', 'stale'],
        ['x-resilient-vary', encodeURIComponent('[]')],
        ['X-Resilient-Credential', 'digest'],
        ['X-Kept', 'yes'],
      ],
    })
    const served = fromStored(stored, { Age: '3', 'X-Resilient-Source': 'fallback' })
    expect([...served.headers]).toEqual([
      ['age', '3'],
      ['x-kept', 'yes'],
      ['x-resilient-source', 'fallback'],
    ])
  })

  it("has the stored copy's URL, as fetch's response has", () => {
    const served = fromStored(entry('x', { url: 'https://api.example.com/items?page=2' }))
    expect(served.url).toBe('https://api.example.com/items?page=2')
  })
})

describe('storedHeader', () => {
  it('finds a header by its lower-case name whatever the case it was stored in, else null', () => {
    const stored = entry('x', { headers: [['content-type', 'text/plain'], ['Cache-Control', 'max-age=5']] })
    expect(storedHeader(stored, 'content-type')).toBe('text/plain')
    expect(storedHeader(stored, 'cache-control')).toBe('max-age=5')
    expect(storedHeader(stored, 'etag')).toBeNull()
  })
})
