/** The demo's mock upstream (demo/mock-upstream.mjs), which npm start and the proxy's tests put behind the proxy. */
import { afterEach, expect, test } from 'vitest'
import { startMockUpstream } from '../demo/mock-upstream.mjs'

let mock: Awaited<ReturnType<typeof startMockUpstream>> | undefined

afterEach(async () => {
  await mock?.close()
  mock = undefined
})

test('serves /data, and only /data: a path that looks like another host (//host/data) is not /data', async () => {
  mock = await startMockUpstream({ port: 0 })
  const status = (path: string) => fetch(mock!.url + path).then(async (r) => (await r.arrayBuffer(), r.status))
  expect(await status('/data')).toBe(200)
  // What the proxy forwards for /api//127.0.0.1:1/data: the upstream must see that path, as a real server would.
  expect(await status('//127.0.0.1:1/data')).toBe(404)
  expect(await status('//127.0.0.1:1/control?error_rate=100')).toBe(404)
  expect(mock.stats.data).toBe(1)
  expect(mock.state.errorRate).toBe(0)
})
