/**
 * What an isolate and a BreakerCoordinator object accept from each other (src/worker/protocol.ts): each bound and
 * each shape, pinned by mutation testing. Whatever arrives malformed is refused whole, never half read, never a throw.
 */
import { describe, expect, it } from 'vitest'
import { COORDINATOR_URL, messageRequest, readAnswer, readFleetOptions, readMessage, readView, type FleetOptions } from '../src/worker/protocol.js'

const OPTIONS: FleetOptions = { failureThreshold: 3, window: 10_000, openDuration: 1_000, probes: 2, successesToClose: 1, minReporters: 2 }
const VIEW = { state: 'open', at: 1_000, openedAt: 1_000, openUntil: 2_000 }

describe('readFleetOptions', () => {
  it('refuses what is not an object, and each setting that is not a positive integer', () => {
    for (const bad of [undefined, null, 5, 'options']) expect(readFleetOptions(bad)).toBeUndefined()
    for (const name of ['failureThreshold', 'window', 'openDuration', 'probes', 'successesToClose', 'minReporters'] as const) {
      for (const value of [0, -1, 1.5, '3', null, Infinity]) expect(readFleetOptions({ ...OPTIONS, [name]: value }), `${name}: ${String(value)}`).toBeUndefined()
      // Only minReporters may be absent.
      const { [name]: _, ...without } = OPTIONS
      if (name !== 'minReporters') expect(readFleetOptions(without), `no ${name}`).toBeUndefined()
    }
  })

  it('takes the least of each (1 ms for a duration), keeps exactly the six settings, and drops anything else', () => {
    const least = { failureThreshold: 1, window: 1, openDuration: 1, probes: 1, successesToClose: 1, minReporters: 1 }
    expect(readFleetOptions({ ...least, extra: 'x' })).toStrictEqual(least)
    expect(readFleetOptions(OPTIONS)).toStrictEqual(OPTIONS)
    const { minReporters: _, ...earlier } = OPTIONS
    expect(readFleetOptions(earlier)).toStrictEqual({ ...earlier, minReporters: 1 })
  })
})

describe('readMessage', () => {
  it('refuses a message that is not an object, or whose options are not', () => {
    for (const bad of [undefined, null, 'm', 3, [], { options: null }, { options: 'o' }]) expect(readMessage(bad)).toBeUndefined()
  })

  it('carries only what was sent: no failures, reporter, acquire nor ends when absent', () => {
    expect(readMessage({ options: OPTIONS })).toStrictEqual({ options: OPTIONS })
    expect(readMessage({ options: OPTIONS, failures: 0, reporter: '', acquire: 1, ends: [] })).toStrictEqual({ options: OPTIONS, failures: 0, reporter: '', acquire: 1, ends: [] })
  })

  it('refuses failures or acquire that are not whole counts, and a reporter longer than 64', () => {
    for (const failures of [-1, 0.5, '1', null, NaN]) expect(readMessage({ options: OPTIONS, failures }), `failures ${String(failures)}`).toBeUndefined()
    for (const acquire of [0, -5, 2.5, '100', null]) expect(readMessage({ options: OPTIONS, acquire }), `acquire ${String(acquire)}`).toBeUndefined()
    expect(readMessage({ options: OPTIONS, reporter: 'r'.repeat(64) })?.reporter).toBe('r'.repeat(64))
    expect(readMessage({ options: OPTIONS, reporter: 'r'.repeat(65) })).toBeUndefined()
    expect(readMessage({ options: OPTIONS, reporter: null })).toBeUndefined()
  })

  it('reads ends as [permit, verdict] pairs, at most 1000 of them, and refuses any malformed one', () => {
    expect(readMessage({ options: OPTIONS, ends: [[0, false], [7, true, 'extra'], [2, null]] })?.ends).toStrictEqual([
      [0, false],
      [7, true],
      [2, null],
    ])
    const full = Array.from({ length: 1_000 }, (_, i): [number, null] => [i, null])
    expect(readMessage({ options: OPTIONS, ends: full })?.ends).toHaveLength(1_000)
    expect(readMessage({ options: OPTIONS, ends: [...full, [1_000, null]] })).toBeUndefined()
    for (const ends of [null, 'ends', { 0: [1, true] }, [null], [5], [[1]], [[-1, true]], [[1.5, true]], [['1', true]], [[1, 'yes']], [[1, 0]], [[2, true], 'x']]) {
      expect(readMessage({ options: OPTIONS, ends }), JSON.stringify(ends)).toBeUndefined()
    }
  })
})

describe('readView', () => {
  it('takes each state the breaker has, with finite times, and refuses any other', () => {
    for (const state of ['closed', 'open', 'half-open', 'forced-open', 'disabled']) expect(readView({ ...VIEW, state })?.state).toBe(state)
    expect(readView({ state: 'closed', at: 0 })).toStrictEqual({ state: 'closed', at: 0 })
    for (const bad of [undefined, null, 'open', { ...VIEW, state: 'opened' }, { ...VIEW, state: undefined }, { ...VIEW, at: undefined }, { ...VIEW, at: Infinity }, { ...VIEW, at: '1000' }, { ...VIEW, openedAt: NaN }, { ...VIEW, openedAt: null }, { ...VIEW, openUntil: null }, { ...VIEW, openUntil: '2000' }]) {
      expect(readView(bad), JSON.stringify(bad)).toBeUndefined()
    }
  })
})

describe('readAnswer', () => {
  it('refuses an answer that is not an object, or whose view is malformed', () => {
    for (const bad of [undefined, null, 'a', {}, { view: null }, { view: { ...VIEW, state: 'x' } }]) expect(readAnswer(bad)).toBeUndefined()
    expect(readAnswer({ view: VIEW })).toStrictEqual({ view: VIEW })
  })

  it('reads a permit, a closed breaker that needs none, and a refusal with its retry time (null: not known)', () => {
    expect(readAnswer({ view: VIEW, grant: { granted: true, permit: 0 } })?.grant).toStrictEqual({ granted: true, permit: 0 })
    expect(readAnswer({ view: VIEW, grant: { granted: true } })?.grant).toStrictEqual({ granted: true, permit: undefined })
    expect(readAnswer({ view: VIEW, grant: { granted: true, permit: 'p' } })?.grant).toStrictEqual({ granted: true, permit: undefined })
    expect(readAnswer({ view: VIEW, grant: { granted: false, retryAt: 5_000 } })?.grant).toStrictEqual({ granted: false, retryAt: 5_000 })
    expect(readAnswer({ view: VIEW, grant: { granted: false, retryAt: null } })?.grant).toStrictEqual({ granted: false, retryAt: Infinity })
  })

  it('refuses a grant that is not an object, a refusal with no retry time, and a grant that is neither', () => {
    for (const grant of [null, 'yes', true, { granted: false }, { granted: false, retryAt: '5000' }, { granted: 'true', permit: 1 }, { granted: 0, retryAt: 5_000 }, {}]) {
      expect(readAnswer({ view: VIEW, grant }), JSON.stringify(grant)).toBeUndefined()
    }
  })
})

describe('messageRequest', () => {
  it('posts the message as JSON to the coordinator URL', () => {
    const message = { options: OPTIONS, reporter: 'r', failures: 2 }
    const [url, init] = messageRequest(message)
    expect(url).toBe(COORDINATOR_URL)
    expect(COORDINATOR_URL).toBe('https://breaker-coordinator/sync')
    expect(init).toStrictEqual({ method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(message) })
    expect(readMessage(JSON.parse(init.body as string))).toStrictEqual(message)
  })
})
