/**
 * Where there is no CustomEvent (Node 18), an event still carries its detail: an Event with an own `detail`.
 * The Node this suite runs on has CustomEvent, so the test takes it away.
 */
import { afterEach, expect, it, vi } from 'vitest'
import { createResilientFetch } from '../src/index.js'
import { statusTransport } from './helpers.js'

afterEach(() => {
  vi.unstubAllGlobals()
})

it('without CustomEvent, a listener still gets the detail (key, status) as the event\'s own detail', async () => {
  vi.stubGlobal('CustomEvent', undefined)
  const rf = createResilientFetch({ fetch: statusTransport(503).fetch, retry: false, fallback: false, timeout: false })
  const events: Event[] = []
  rf.addEventListener('failure', (e) => events.push(e))
  await rf('https://a.test/x')
  expect(events).toHaveLength(1)
  expect(events[0]!.type).toBe('failure')
  expect(Object.hasOwn(events[0]!, 'detail')).toBe(true)
  expect((events[0] as CustomEvent).detail).toMatchObject({ key: 'https://a.test', status: 503 })
})
