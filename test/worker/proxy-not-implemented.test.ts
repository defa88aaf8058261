import { describe, expect, inject, it } from 'vitest'
import { createProxy } from '../../src/worker/index.js'
import { get, snapshotOf } from './helpers.js'

// Through a shared proxy, a 501 says the origin does not do what one client asked (a method, a page's CORS preflight),
// not that it is in trouble: judged a failure, any client's preflights would open the origin's breaker for everyone.
// Against a real upstream (shared-upstream.ts) whose /no-options/ paths answer OPTIONS 501 and GET 200.
const [A] = inject('sharedUpstreamUrls')

const preflight = (path: string) =>
  new Request(`http://proxy.test/api${path}`, { method: 'OPTIONS', headers: { origin: 'https://page.example', 'access-control-request-method': 'GET' } })

describe('a 501 through the shared proxy', () => {
  it("goes back to its client, and a page's preflights answered 501 open nothing for the others", async () => {
    const handler = createProxy({ upstream: A, store: 'memory', failureThreshold: 2 })
    for (let i = 0; i < 4; i++) {
      const answer = await handler(preflight('/no-options/one'))
      expect([answer.status, await answer.text()]).toEqual([501, 'not implemented'])
    }
    expect((await handler(get('/api/no-options/one'))).status).toBe(200)
    const snapshot = await snapshotOf(handler)
    expect(snapshot.totals.failures).toBe(0)
    expect(snapshot.breakers.find((b) => b.key === A)?.state).toBe('closed')
  })
})
