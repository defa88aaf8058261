import { describe, expect, it } from 'vitest'
import { BulkheadRejectedError, TimeoutError } from '../../src/errors.js'
import { compose, orderOf, type AnyStage } from '../../src/stages/pipeline.js'
import { Keys } from '../../src/stages/keys.js'
import { aborted, refusal, type Attempt, type Gate, type Outcome, type Refusal, type Wrapper } from '../../src/stages/types.js'
import { fakeClock, ok, testCall } from './helpers.js'

/** A gate that logs what happens to it; refuses or waits when told. */
function loggingGate(name: string, log: string[], behave: { refuse?: boolean; deny?: boolean; wait?: boolean } = {}): Gate {
  return {
    name,
    forKey: (key) => `${name}@${key}`,
    refuses: (state) => (behave.refuse ? refusal('open', new Error(`${state} refuses`)) : undefined),
    admit(state) {
      log.push(`admit ${state}`)
      if (behave.deny) return refusal('bulkhead', new Error(`${name} full`))
      return behave.wait ? Promise.resolve(`${name}-ticket`) : `${name}-ticket`
    },
    settle(state, _attempt, ticket, outcome) {
      log.push(`settle ${state} ${String(ticket)} ${outcome.kind}`)
    },
  }
}

function loggingWrapper(name: string, log: string[], answers = false): Wrapper {
  return {
    name,
    answersRefusals: answers ? () => true : undefined,
    async run(call, next) {
      log.push(`> ${name}`)
      const outcome = await next(call)
      log.push(`< ${name} ${outcome.kind}`)
      return outcome
    },
  }
}

function build(stages: AnyStage[], log: string[], transport = async (_: Attempt): Promise<Outcome> => ok(200)) {
  const clock = fakeClock()
  const chain = compose(stages, { names: ['attempt deadline', 'transport'], run: async (a) => (log.push('transport'), transport(a)) }, clock.now)
  const keys = new Keys(chain.stages, 10)
  const call = () => testCall({ states: keys.get('https://a.test').states })
  return { chain, keys, call }
}

describe('compose', () => {
  it('lists the stages outer to inner, then the attempt deadline and the transport', () => {
    const log: string[] = []
    const { chain } = build([loggingWrapper('fallback', log), loggingWrapper('retry', log), loggingGate('bulkhead', log), loggingGate('breaker', log)], log)
    expect(orderOf(chain)).toEqual(['fallback', 'retry', 'bulkhead', 'breaker', 'attempt deadline', 'transport'])
  })

  it('wrappers nest outer to inner around the gates; gates admit in order and settle inner first with the outcome', async () => {
    const log: string[] = []
    const { chain, call } = build([loggingWrapper('outer', log), loggingWrapper('inner', log), loggingGate('a', log), loggingGate('b', log, { wait: true })], log)
    expect(await chain.run(call())).toMatchObject({ kind: 'response' })
    expect(log).toEqual([
      '> outer',
      '> inner',
      'admit a@https://a.test',
      'admit b@https://a.test',
      'transport',
      'settle b@https://a.test b-ticket response',
      'settle a@https://a.test a-ticket response',
      '< inner response',
      '< outer response',
    ])
  })

  it("an inner gate's refusal settles only the gates that admitted, with that refusal; the transport is not called", async () => {
    const log: string[] = []
    const { chain, call } = build([loggingGate('a', log), loggingGate('b', log, { deny: true }), loggingGate('c', log)], log)
    expect(await chain.run(call())).toMatchObject({ kind: 'refused', reason: 'bulkhead' })
    expect(log).toEqual(['admit a@https://a.test', 'admit b@https://a.test', 'settle a@https://a.test a-ticket refused'])
  })

  it('an innermost part that throws or rejects ends the attempt as the caller\'s mistake, and the gates that admitted it settle', async () => {
    const log: string[] = []
    const boom = new Error('boom')
    const thrown = build([loggingGate('a', log)], log, () => {
      throw boom
    })
    expect(await thrown.chain.run(thrown.call())).toEqual({ kind: 'refused', reason: 'request', error: boom })
    const rejected = build([loggingGate('a', log, { wait: true })], log, async () => Promise.reject(boom))
    expect(await rejected.chain.run(rejected.call())).toEqual({ kind: 'refused', reason: 'request', error: boom })
    expect(log).toEqual(['admit a@https://a.test', 'transport', 'settle a@https://a.test a-ticket refused', 'admit a@https://a.test', 'transport', 'settle a@https://a.test a-ticket refused'])
  })

  it('an innermost part that ends its attempts settles the gates in its own frame, through attempt.end', async () => {
    const log: string[] = []
    const chain = compose([loggingGate('a', log)], { names: ['transport'], ends: true, run: async (a) => (log.push('transport'), a.end!(ok(200))) }, fakeClock().now)
    const keys = new Keys(chain.stages, 10)
    expect(await chain.run(testCall({ states: keys.get('https://a.test').states }))).toMatchObject({ kind: 'response' })
    expect(log).toEqual(['admit a@https://a.test', 'transport', 'settle a@https://a.test a-ticket response'])
  })

  it('a synchronous refusal comes before any admit, and at call start unless a wrapper may answer it', async () => {
    const log: string[] = []
    const gates = () => [loggingGate('a', log), loggingGate('b', log, { refuse: true })]
    const plain = build(gates(), log)
    expect(plain.chain.refusal(plain.call(), 0)).toMatchObject({ kind: 'refused', reason: 'open' })
    expect(await plain.chain.run(plain.call())).toMatchObject({ kind: 'refused' })
    expect(log).toEqual([])
    const answered = build([loggingWrapper('fallback', log, true), ...gates()], log)
    expect(answered.chain.refusal(answered.call(), 0)).toBeUndefined()
  })

  it("a gate's refusal because a deadline passed is reported once as a timeout, whatever the gate and however it refuses", async () => {
    const late = new TimeoutError(300, 'total')
    const deadline = refusal('deadline', late)
    // A gate that refuses one way only: at its synchronous fast path, at admit, or after a wait.
    const gate = (how: 'refuses' | 'admit' | 'wait', denial: Refusal | ReturnType<typeof aborted>): Gate => ({
      name: how,
      refuses: how === 'refuses' ? () => denial as Refusal : undefined,
      admit: () => (how === 'wait' ? Promise.resolve(denial) : how === 'admit' ? denial : true),
      settle() {},
    })
    for (const how of ['refuses', 'admit', 'wait'] as const) {
      const reported: unknown[] = []
      const transport = { names: ['transport'], run: async () => ok(200), timeout: (key: string, error: TimeoutError) => void reported.push([key, error]) }
      const chain = compose([gate(how, deadline)], transport, fakeClock().now)
      const keys = new Keys(chain.stages, 10)
      expect(await chain.run(testCall({ states: keys.get('https://a.test').states })), how).toBe(deadline)
      expect(reported, how).toEqual([['https://a.test', late]])
      // Any other refusal is no timeout, nor is an abort (only admit answers with one).
      const others = [refusal('bulkhead', new BulkheadRejectedError('https://a.test', 1, 0)), ...(how === 'refuses' ? [] : [aborted(new Error('gone'))])]
      for (const other of others) {
        const quiet = compose([gate(how, other)], transport, fakeClock().now)
        expect(await quiet.run(testCall({ states: new Keys(quiet.stages, 10).get('https://a.test').states }))).toBe(other)
      }
      expect(reported, how).toHaveLength(1)
    }
    // The fast path at call start reports it too, once.
    const reported: unknown[] = []
    const chain = compose([gate('refuses', deadline)], { names: ['transport'], run: async () => ok(200), timeout: (key) => void reported.push(key) }, fakeClock().now)
    expect(chain.refusal(testCall({ states: new Keys(chain.stages, 10).get('https://a.test').states }), 0)).toBe(deadline)
    expect(reported).toEqual(['https://a.test'])
  })

  it('keeps each stage its own state per key, created when the key is first used', () => {
    const log: string[] = []
    const { keys } = build([loggingWrapper('w', log), loggingGate('g', log)], log)
    expect(keys.get('k').states).toEqual([undefined, 'g@k'])
    expect(keys.get('k')).toBe(keys.get('k'))
  })
})

describe('keys', () => {
  it('drops the least recently used idle key beyond maxKeys, never a busy one', () => {
    const busy = new Set<string>()
    const stage = { name: 's', forKey: (key: string) => key, busy: (state: unknown) => busy.has(state as string) }
    const keys = new Keys([stage], 2)
    keys.get('a')
    keys.get('b')
    busy.add('a')
    keys.get('c')
    expect(keys.find('a')).toBeDefined()
    expect(keys.find('b')).toBeUndefined()
    keys.get('c').calls++
    keys.get('d')
    expect([...keys.values()].map((e) => e.key)).toEqual(['a', 'c', 'd'])
  })

  it('a gate whose settle throws: every other gate still settles, and the call rejects with its error, the body cancelled', async () => {
    const log: string[] = []
    const boom = new Error('settle failed')
    const throwing: Gate = { ...loggingGate('breaker', log), settle: () => { throw boom } }
    let cancelled = false
    const body = new ReadableStream({ cancel: () => void (cancelled = true) })
    const { chain, call } = build([loggingGate('bulkhead', log), throwing, loggingGate('latency', log)], log, async () => ({ kind: 'response', response: new Response(body), failure: false, duration: 1 }))
    expect(await chain.run(call())).toEqual(refusal('request', boom))
    expect(log.filter((line) => line.startsWith('settle'))).toEqual(['settle latency@https://a.test latency-ticket response', 'settle bulkhead@https://a.test bulkhead-ticket response'])
    await Promise.resolve()
    expect(cancelled).toBe(true)
  })
})
