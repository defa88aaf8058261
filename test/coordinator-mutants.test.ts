/**
 * The BreakerCoordinator object's glue (src/worker/coordinator.ts): what it answers to a bad request, and which storage
 * writes a message costs (none when nothing changed). Pinned by mutation testing, on in-memory storage.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { BreakerCoordinator } from '../src/worker/coordinator.js'
import { FleetBreaker } from '../src/worker/fleet.js'
import type { CoordinatorAnswer, FleetOptions } from '../src/worker/protocol.js'
import { memoryState } from './coordinator-fakes.js'

const OPTIONS: FleetOptions = { failureThreshold: 2, window: 10_000, openDuration: 1_000, probes: 1, successesToClose: 1, minReporters: 1 }
const T0 = 1_000_000

beforeEach(() => {
  vi.useFakeTimers({ now: T0, toFake: ['Date'] })
})
afterEach(() => {
  vi.useRealTimers()
})

const request = (init: RequestInit) => new Request('https://c/sync', init)
const post = async (o: BreakerCoordinator, body: unknown) => (await (await o.fetch(request({ method: 'POST', body: JSON.stringify(body) }))).json()) as CoordinatorAnswer

/** An object started on `state`, its storage read. */
async function started(state: ReturnType<typeof memoryState>): Promise<BreakerCoordinator> {
  const object = new BreakerCoordinator(state.ctx)
  await Promise.resolve()
  await Promise.resolve()
  return object
}

/** Storage as an object evicted with `breaker` in it left it. */
async function storedWith(breaker: FleetBreaker) {
  const state = memoryState()
  await state.ctx.storage.put('breaker', breaker.snapshot())
  if (breaker.alarmAt !== undefined) await state.ctx.storage.setAlarm(breaker.alarmAt)
  state.writes.length = 0
  return state
}

describe('BreakerCoordinator: a request it cannot read', () => {
  it.each<[string, RequestInit, number, string]>([
    ['a GET', { method: 'GET' }, 405, 'method_not_allowed'],
    ['a body that is not JSON', { method: 'POST', body: '{' }, 400, 'bad_message'],
    ['a message without options', { method: 'POST', body: JSON.stringify({ failures: 1 }) }, 400, 'bad_message'],
  ])('%s is answered %i with its error, and moves nothing', async (_, init, status, error) => {
    const state = memoryState()
    const object = await started(state)
    const response = await object.fetch(request(init))
    expect([response.status, await response.json()]).toEqual([status, { error }])
    expect(object.fleet).toBeUndefined()
    expect(state.writes).toEqual([])
  })
})

describe('BreakerCoordinator: what a message costs in storage', () => {
  it("an alarm before any message (a key whose storage was idle) does nothing and writes nothing", async () => {
    const state = memoryState()
    const object = await started(state)
    await expect(object.alarm()).resolves.toBeUndefined()
    expect(state.writes).toEqual([])
  })

  it('the first message that counts a failure is kept, with the alarm that forgets it', async () => {
    const state = memoryState()
    const object = await started(state)
    await post(object, { options: OPTIONS, reporter: 'a', failures: 1 })
    expect(state.writes).toEqual(['put breaker', `setAlarm ${T0 + 10_000}`])
  })

  it('messages that change nothing write nothing; a report answers no grant', async () => {
    const state = memoryState()
    const object = await started(state)
    expect(await post(object, { options: OPTIONS, reporter: 'a', failures: 0 })).toEqual({ view: { state: 'closed', at: 0 } })
    expect(state.writes).toEqual([])
    await post(object, { options: OPTIONS, reporter: 'a', failures: 1 })
    state.writes.length = 0
    await post(object, { options: OPTIONS, reporter: 'a', failures: 0 })
    await post(object, { options: OPTIONS, reporter: 'b' })
    expect(state.writes).toEqual([])
  })

  it('a message that finds the open ended before its alarm ran deletes the alarm', async () => {
    const state = memoryState()
    const object = await started(state)
    await post(object, { options: OPTIONS, reporter: 'a', failures: 2 })
    expect(state.alarm()).toBe(T0 + 1_000)
    state.writes.length = 0
    vi.setSystemTime(T0 + 1_000)
    expect((await post(object, { options: OPTIONS, reporter: 'a' })).view.state).toBe('half-open')
    expect(state.writes).toEqual(['put breaker', 'deleteAlarm'])
  })
})

describe('BreakerCoordinator: resuming from storage', () => {
  it('a snapshot whose options it cannot read is not resumed: the object starts afresh', async () => {
    const open = new FleetBreaker(OPTIONS, T0)
    open.report(T0, 2, 'a')
    const state = memoryState()
    await state.ctx.storage.put('breaker', { ...open.snapshot(), options: { ...OPTIONS, probes: 0 } })
    const object = await started(state)
    expect((await post(object, { options: OPTIONS, reporter: 'a' })).view).toEqual({ state: 'closed', at: 0 })
  })

  it('a resumed open writes nothing for a message that changes nothing, and deletes its storage once the fleet recovers', async () => {
    const open = new FleetBreaker(OPTIONS, T0)
    open.report(T0, 2, 'a')
    const state = await storedWith(open)
    const object = await started(state)
    expect((await post(object, { options: OPTIONS, reporter: 'a', failures: 0 })).view.state).toBe('open')
    expect(state.writes).toEqual([])
    vi.setSystemTime(T0 + 1_000)
    await object.alarm()
    const { grant } = await post(object, { options: OPTIONS, reporter: 'a', acquire: 100 })
    await post(object, { options: OPTIONS, reporter: 'a', ends: [[(grant as { permit: number }).permit, false]] })
    expect(object.fleet!.state).toBe('closed')
    expect(state.data.size).toBe(0)
  })

  it('an idle snapshot (kept before idle ones were deleted) is deleted with the next message', async () => {
    const state = await storedWith(new FleetBreaker(OPTIONS, T0))
    const object = await started(state)
    await post(object, { options: OPTIONS, reporter: 'a', failures: 0 })
    expect(state.writes).toEqual(['delete breaker'])
    expect(state.data.size).toBe(0)
  })
})
