// Each route's pool is spread over its own origins, whatever other routes are asked in between: the rotation is the
// route's, not one counter for the whole proxy (with two pools asked in turn, each pool always started at one origin).
import { describe, expect, inject, it } from 'vitest'
import { createProxy } from '../../src/worker/index.js'
import { PROXY } from './helpers.js'

const [A, B] = inject('sharedUpstreamUrls')
const hits = async (path: string) => Number(await (await fetch(`${A}/__hits?path=${encodeURIComponent(path)}`)).text())

describe('two routes with a pool each, asked in turn', () => {
  it("each route's requests are spread over both of its origins", async () => {
    const run = `rotation-${crypto.randomUUID()}`
    // Two ports of one real server on 127.0.0.1; each origin's base path says which one a request reached.
    const handler = createProxy({ routes: { '/one/': [`${A}/${run}/one-a`, `${B}/${run}/one-b`], '/two/': [`${A}/${run}/two-a`, `${B}/${run}/two-b`] }, store: 'memory' })
    for (let i = 0; i < 8; i++) {
      for (const route of ['one', 'two']) {
        const response = await handler(new Request(`${PROXY}/${route}/x`))
        expect(response.status).toBe(200)
        await response.body?.cancel()
      }
    }
    const counts = await Promise.all(['one-a', 'one-b', 'two-a', 'two-b'].map((name) => hits(`/${run}/${name}/x`)))
    expect(counts).toEqual([4, 4, 4, 4])
  })
})
