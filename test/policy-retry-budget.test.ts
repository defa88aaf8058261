/**
 * A call's own retry budget (`resilience: { retry: { budget } }`) limits that call's retries with the key's counts, as
 * the instance's does: it was ignored (the key's budget kept the instance's numbers, and with `budget: false` on the
 * instance there was none at all).
 */
import { afterEach, beforeEach, expect, it, vi } from 'vitest'
import { createResilientFetch } from '../src/index.js'

beforeEach(() => {
  vi.useFakeTimers()
})
afterEach(() => {
  vi.useRealTimers()
})

const noWait = { base: 1, max: 1, jitter: 'none' } as const

function failing(budget: false | { ratio: number; min: number } | undefined) {
  let sent = 0
  const rf = createResilientFetch({
    fetch: async () => (sent++, new Response('down', { status: 503 })),
    fallback: false,
    breaker: false,
    retry: { limit: 5, backoff: noWait, ...(budget === undefined ? {} : { budget }) },
  })
  return { rf, sent: () => sent }
}

async function calls(rf: ReturnType<typeof createResilientFetch>, n: number, retry?: object) {
  for (let i = 0; i < n; i++) {
    const p = rf('https://a.test/', retry ? { resilience: { retry } } : undefined)
    await vi.advanceTimersByTimeAsync(20)
    expect((await p).status).toBe(503)
  }
}

it("a call's own budget limits its retries where the instance has a larger one", async () => {
  const { rf, sent } = failing(undefined)
  await calls(rf, 3, { budget: { ratio: 0, min: 1 } })
  // Three first attempts and the one retry the budget allows.
  expect(sent()).toBe(4)
  expect(rf.snapshot().totals.retries).toBe(1)
})

it("a call's own budget applies where the instance has none", async () => {
  const { rf, sent } = failing(false)
  await calls(rf, 3, { budget: { ratio: 0, min: 2 } })
  expect(sent()).toBe(5)
  // Without it, every call makes all its retries.
  await calls(rf, 1)
  expect(sent()).toBe(11)
})

it("a call's own ratio counts the key's calls, those without a budget of their own included", async () => {
  const { rf, sent } = failing(false)
  // Ten calls that do not retry (limit 0) and this one make room for 0.25 × 11 = 2.75: 3 retries (of the five it may make).
  await calls(rf, 10, { limit: 0 })
  expect(sent()).toBe(10)
  await calls(rf, 1, { budget: { ratio: 0.25, min: 0 } })
  expect(sent()).toBe(14)
})

it('budget: false per call lifts the instance budget for that call', async () => {
  const { rf, sent } = failing({ ratio: 0, min: 0 })
  await calls(rf, 1)
  expect(sent()).toBe(1)
  await calls(rf, 1, { budget: false })
  expect(sent()).toBe(7)
})
