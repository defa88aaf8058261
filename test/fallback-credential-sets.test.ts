// A personal copy never crosses from one credential set to another: one stored from a request with no credential we can
// see (a `Cache-Control: private` or Set-Cookie response, personal through the browser's own cookies) once answered a
// request carrying Authorization or an API key, someone else's request than the one it was stored for. A public copy
// still answers any request (test/fallback.test.ts).
import { afterEach, describe, expect, it, vi } from 'vitest'
import { createFallback } from './fallback-helper.js'
import { memoryStore } from '../src/store/memory.js'

const URL_A = 'https://api.example.com/me'

afterEach(() => void vi.unstubAllGlobals())

/** A fallback with `private: true` holding the copy of a request to URL_A without credentials; `served` tells whether a request with `headers` gets it. */
async function storedWithoutCredentials(init: ResponseInit) {
  const fallback = createFallback({ store: memoryStore(), maxAge: 60_000, maxBodyBytes: 1_000, private: true }, () => {})
  const work: Promise<unknown>[] = []
  fallback.remember({ url: URL_A, headers: new Headers() }, new Response('mine', init), (p) => work.push(p))
  await Promise.all(work)
  return { served: async (headers: HeadersInit) => (await fallback.recall({ url: URL_A, headers: new Headers(headers) })) !== undefined }
}

describe('a personal copy stored without credentials is served only to a request without any', () => {
  it.each([
    ['Cache-Control: private', { 'cache-control': 'private' }],
    ['Set-Cookie', { 'set-cookie': 'id=1' }],
  ])('%s', async (_name, headers) => {
    const { served } = await storedWithoutCredentials({ headers })
    expect({
      authorization: await served({ authorization: 'Bearer B' }),
      apiKey: await served({ 'x-api-key': 'k' }),
      none: await served({ accept: 'application/json' }),
    }).toEqual({ authorization: false, apiKey: false, none: true })
  })

  it('where there is no crypto.subtle to digest a request credential, that request is not answered by it either', async () => {
    const { served } = await storedWithoutCredentials({ headers: { 'cache-control': 'private' } })
    vi.stubGlobal('crypto', undefined)
    expect({ authorization: await served({ authorization: 'Bearer B' }), none: await served({}) }).toEqual({ authorization: false, none: true })
  })
})
