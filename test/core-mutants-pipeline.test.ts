import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { createResilientFetch } from '../src/index.js'
import { TimeoutError } from '../src/errors.js'
import { compose, type AnyStage } from '../src/stages/pipeline.js'
import { Keys } from '../src/stages/keys.js'
import { refusal, type Attempt, type Gate, type Outcome, type Wrapper } from '../src/stages/types.js'
import { fakeClock, ok, testCall } from './stages/helpers.js'

beforeEach(() => void vi.useFakeTimers({ now: 1_000_000 }))
afterEach(() => void vi.useRealTimers())

describe('a gate denial in the pipeline', () => {
  it("a caller that aborts a queued attempt with the reason 'deadline' (a string) gets that reason, no timeout is counted, and the bulkhead keeps working", async () => {
    const held: ((response: Response) => void)[] = []
    const rf = createResilientFetch({ retry: false, bulkhead: { maxConcurrent: 1 }, fetch: () => new Promise<Response>((resolve) => held.push(resolve)) })
    const timeouts: unknown[] = []
    rf.addEventListener('timeout', (event) => timeouts.push(event))
    const first = rf('https://gate.test/a')
    const controller = new AbortController()
    const queued = rf('https://gate.test/b', { signal: controller.signal })
    const settled = queued.then(
      () => 'resolved',
      (error: unknown) => error,
    )
    await vi.advanceTimersByTimeAsync(0)
    controller.abort('deadline')
    expect(await settled).toBe('deadline')
    expect(timeouts).toEqual([])
    expect(rf.snapshot().totals.timeouts).toBe(0)
    held[0]!(new Response('a'))
    expect(await (await first).text()).toBe('a')
    const next = rf('https://gate.test/c')
    await vi.advanceTimersByTimeAsync(0)
    held[1]!(new Response('c'))
    expect(await (await next).text()).toBe('c')
    expect(rf.snapshot().bulkheads).toMatchObject([{ key: 'https://gate.test', active: 0, queued: 0 }])
  })
})

describe('compose: what a gate or the innermost part may leave out or get wrong', () => {
  const transport = (run: (attempt: Attempt) => Promise<Outcome> = async () => ok(200)) => ({ names: ['transport'], run })
  const chainOf = (stages: AnyStage[], innermost = transport()) => {
    const chain = compose(stages, innermost, fakeClock().now)
    const states = new Keys(chain.stages, 10).get('https://a.test').states
    return { chain, call: (parts: Parameters<typeof testCall>[0] = {}) => testCall({ states, ...parts }) }
  }
  /** A gate that admits with a ticket and logs its settle. */
  const logged = (log: string[]): Gate => ({ name: 'logged', admit: () => 'ticket', settle: (_s, _a, ticket, outcome) => void log.push(`settle ${String(ticket)} ${outcome.kind}`) })

  it('a deadline refusal where the innermost part reports no timeouts (a proxy origin) is still the outcome', async () => {
    const late = refusal('deadline', new TimeoutError(300, 'total'))
    const { chain, call } = chainOf([{ name: 'late', admit: () => late }])
    expect(await chain.run(call())).toBe(late)
  })

  it('gates that only refuse, or that only admit, need no other method', async () => {
    const { chain, call } = chainOf([{ name: 'refuses only', refuses: () => undefined }, { name: 'admits only', admit: () => true }])
    expect(await chain.run(call())).toMatchObject({ kind: 'response' })
  })

  it('an innermost part that throws at once, a gate whose admit throws, or one whose wait rejects: the call ends as its error and what was admitted is settled', async () => {
    const boom = new Error('boom')
    for (const [how, stages, innermost] of [
      ['transport throws', [], transport(() => { throw boom })],
      ['admit throws', [{ name: 'bad', admit: () => { throw boom } }], transport()],
      ['wait rejects', [{ name: 'bad', admit: () => Promise.reject(boom) }], transport()],
    ] as const) {
      const log: string[] = []
      const { chain, call } = chainOf([logged(log), ...stages], innermost)
      expect(await chain.run(call()), how).toEqual({ kind: 'refused', reason: 'request', error: boom })
      expect(log, how).toEqual(['settle ticket refused'])
    }
  })

  it("a gate sees the attempt's own signal when a wrapper gives it a controller (hedging), else the caller's", async () => {
    const seen: (AbortSignal | undefined)[] = []
    const caller = new AbortController()
    const own = new AbortController()
    const hedging: Wrapper = { name: 'hedge', run: async (call, next) => (await next(call), next(call, own)) }
    const { chain, call } = chainOf([hedging, { name: 'watch', admit: (_s, attempt) => (seen.push(attempt.signal), true) }])
    await chain.run(call({ signal: caller.signal }))
    expect(seen).toEqual([caller.signal, own.signal])
  })

  it('the gates are asked once at call start; every later attempt (a retry) is asked again', async () => {
    let asked = 0
    const retrying: Wrapper = { name: 'retry', run: async (call, next) => (await next(call), next(call)) }
    const { chain, call } = chainOf([retrying, { name: 'count', refuses: () => void asked++ }])
    const started = call()
    expect(chain.refusal(started, 0)).toBeUndefined()
    await chain.run(started)
    expect(asked).toBe(2)
  })

  it('a wrapper that will not answer this call (fallback off for it) leaves the refusal at call start', () => {
    const open = refusal('open', new Error('open'))
    const { chain, call } = chainOf([{ name: 'fallback', run: (c, next) => next(c), answersRefusals: () => false }, { name: 'breaker', refuses: () => open }])
    expect(chain.refusal(call(), 0)).toBe(open)
  })
})
