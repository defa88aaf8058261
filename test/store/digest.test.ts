import { createHash } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { credentialDigest, isCredential } from '../../src/store/digest.js'

const sha256 = (input: string) => createHash('sha256').update(input).digest('hex')

describe('isCredential', () => {
  it.each([
    'Authorization',
    'Proxy-Authorization',
    'Cookie',
    'X-Api-Key',
    'api-key',
    'apikey',
    'X-Auth-Token',
    'X-Access-Token',
    'X-Amz-Security-Token',
    'X-CSRF-Token',
    'X-XSRF-TOKEN',
    'X-Session-Id',
    'X-Client-Secret',
    'X-Password',
    'Cf-Access-Jwt-Assertion',
  ])('%s is a credential', (name) => {
    expect(isCredential(name)).toBe(true)
  })

  it.each(['Accept', 'Accept-Language', 'Cache-Control', 'Content-Type', 'User-Agent', 'X-Request-Id', 'X-Tenant', 'If-None-Match'])('%s is not', (name) => {
    expect(isCredential(name)).toBe(false)
  })
})

describe('credentialDigest', () => {
  it('is undefined for a request without credentials', async () => {
    expect(await credentialDigest(new Headers({ accept: 'application/json', 'x-tenant': 'acme' }))).toBeUndefined()
  })

  it('hashes Authorization and Cookie alone exactly as before, so copies stored by earlier versions still match', async () => {
    expect(await credentialDigest(new Headers({ authorization: 'Bearer a' }))).toBe(sha256('Bearer a\n'))
    expect(await credentialDigest(new Headers({ cookie: 'sid=a' }))).toBe(sha256('\nsid=a'))
    expect(await credentialDigest(new Headers({ cookie: 'sid=a', authorization: 'Bearer a', accept: '*/*' }))).toBe(sha256('Bearer a\nsid=a'))
  })

  it.each(['x-api-key', 'proxy-authorization', 'api-key', 'apikey', 'x-auth-token', 'x-amz-security-token', 'x-csrf-token'])('binds %s: a different value, or none, is a different digest', async (name) => {
    const alice = await credentialDigest(new Headers({ [name]: 'alice-secret' }))
    expect(alice).toMatch(/^[0-9a-f]{64}$/)
    expect(await credentialDigest(new Headers({ [name]: 'bob-secret' }))).not.toBe(alice)
    expect(await credentialDigest(new Headers({ authorization: 'Bearer x', [name]: 'alice-secret' }))).not.toBe(alice)
    expect(await credentialDigest(new Headers())).toBeUndefined()
  })

  it('binds every credential header together, whatever their order, and ignores the others', async () => {
    const digest = await credentialDigest(new Headers([['x-api-key', 'k'], ['authorization', 'Bearer a'], ['accept', 'text/csv']]))
    expect(await credentialDigest(new Headers([['authorization', 'Bearer a'], ['accept', 'application/json'], ['x-api-key', 'k']]))).toBe(digest)
    expect(await credentialDigest(new Headers({ authorization: 'Bearer a' }))).not.toBe(digest)
    expect(await credentialDigest(new Headers({ authorization: 'Bearer a', 'x-api-key': 'other' }))).not.toBe(digest)
  })
})
