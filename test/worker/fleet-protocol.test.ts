/**
 * In workerd, a real BreakerCoordinator and messages it must refuse: a malformed one, or one whose open would end past
 * what its alarm can hold (workerd refuses alarms after 2189). Refused with a 400, the object goes on answering.
 */
import { env } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'
import type { CoordinatorNamespace } from '../../src/worker/index.js'

const BREAKERS = env.BREAKERS as CoordinatorNamespace & { idFromName(name: string): unknown; get(id: unknown): { fetch(input: string, init?: RequestInit): Promise<Response> } }
const OPTIONS = { failureThreshold: 1, window: 10_000, openDuration: 1_000, probes: 1, successesToClose: 1, minReporters: 1 }

async function post(name: string, body: string): Promise<{ status: number; body: unknown }> {
  const response = await BREAKERS.get(BREAKERS.idFromName(name)).fetch('https://breaker-coordinator/sync', { method: 'POST', body })
  return { status: response.status, body: await response.json() }
}

describe('BreakerCoordinator in workerd: bad messages', () => {
  it('an open longer than an alarm can hold, or a malformed message, is refused; the object then answers as usual', async () => {
    const name = 'http://fleet-protocol-1.test'
    for (const bad of [
      JSON.stringify({ options: { ...OPTIONS, openDuration: 7e12 }, reporter: 'a', failures: 1 }),
      JSON.stringify({ options: { ...OPTIONS, window: Number.MAX_SAFE_INTEGER, failureThreshold: 2 }, reporter: 'a', failures: 1 }),
      JSON.stringify({ options: { ...OPTIONS, probes: '1' } }),
      '{"options":',
    ]) {
      expect(await post(name, bad)).toEqual({ status: 400, body: { error: 'bad_message' } })
    }
    const { status, body } = await post(name, JSON.stringify({ options: OPTIONS, reporter: 'a', failures: 1 }))
    expect(status).toBe(200)
    const view = (body as { view: { state: string; openedAt: number; openUntil: number } }).view
    expect(view.state).toBe('open')
    expect(view.openUntil - view.openedAt).toBe(1_000)
  })
})
