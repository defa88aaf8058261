/**
 * A half-open probe's wait for the share's permit: only the call's total deadline passing ends it as a total timeout.
 * A share (or the fleet object's transport) failing with an error that merely says 'total deadline' lets the probe through.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { createResilientFetch, type BreakerShare } from '../src/index.js'
import { durableObjectShare, type CoordinatorNamespace } from '../src/worker/share.js'
import { controlledTransport, flush } from './helpers.js'

const URL_A = 'https://a.test/x'
const breaker = { failureThreshold: 1, openDuration: 1_000 }

beforeEach(() => {
  vi.useFakeTimers({ now: 1_000_000 })
})
afterEach(() => {
  vi.useRealTimers()
})

/** The status the half-open probe's call ends with, on `share`, its breaker opened 1 s before by a 500. */
async function probeStatus(share: BreakerShare): Promise<unknown> {
  const c = controlledTransport()
  const rf = createResilientFetch({ fetch: c.fetch, retry: false, fallback: false, timeout: { total: 10_000 }, breaker, share })
  const first = rf(URL_A)
  await flush()
  c.pending.shift()!.respond(500)
  await first
  vi.advanceTimersByTime(1_000)
  const probe = rf(URL_A).then((response) => response.status, (error: Error) => `${error.name}: ${error.message}`)
  await flush(20)
  c.pending.shift()?.respond(200)
  return probe
}

describe("a share's failure worded as the deadline", () => {
  it("a share rejecting with Error('total deadline') lets the probe through", async () => {
    const share: BreakerShare = { connect() {}, acquireProbe: () => Promise.reject(new Error('total deadline')), releaseProbe() {} }
    expect(await probeStatus(share)).toBe(200)
  })

  it("durableObjectShare whose object's transport fails with Error('total deadline') lets the probe through", async () => {
    const namespace: CoordinatorNamespace = {
      idFromName: (name) => name,
      get: (() => ({ fetch: () => Promise.reject(new Error('total deadline')) })) as never,
    }
    expect(await probeStatus(durableObjectShare(namespace, { breaker, minReporters: 1, retryInterval: 1 }))).toBe(200)
  })
})
