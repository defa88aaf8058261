import { isDenial, refusal, type Attempt, type Call, type Gate, type Next, type Outcome, type Refusal, type Stage, type Transport, type Wrapper } from './types.js'

/** A stage of the chain: a wrapper, a gate, or both (the total deadline sets the call's deadline and checks it per attempt). */
export type AnyStage = Stage & Partial<Pick<Wrapper, 'run' | 'answersRefusals'> & Pick<Gate, 'refuses' | 'admit' | 'settle'>>

/** The innermost part: the attempt deadline and the transport. */
export interface Innermost {
  readonly names: readonly string[]
  readonly run: Transport
}

/** The chain an instance builds once. */
export interface Chain {
  /** Every stage outer to inner; a key's `states` follow this order. */
  readonly stages: readonly Stage[]
  /** The names outer to inner, ending with the attempt deadline and the transport. */
  readonly order: readonly string[]
  /** Runs a call through every stage; never rejects. */
  run(call: Call): Promise<Outcome>
  /** A gate's refusal given at once, before the call goes async; undefined when a wrapper may answer refusals. */
  refusal(call: Call, t: number): Refusal | undefined
}

type Indexed<T> = { stage: T; index: number }

/** One run of the gates around the transport, for each attempt: admitted in order, settled inner first. */
class GateRun {
  constructor(
    private readonly gates: readonly Indexed<Gate>[],
    private readonly innermost: Innermost,
    private readonly now: () => number,
  ) {}

  /** The first synchronous refusal of a gate; nothing is taken. */
  refuses(call: Call, t: number): Refusal | undefined {
    for (const { stage, index } of this.gates) {
      const refused = stage.refuses?.(call.states[index], call, t)
      if (refused !== undefined) return refused
    }
    return undefined
  }

  readonly attempt: Next = (call, signal) => {
    const attempt: Attempt = { call, signal: signal ?? call.signal, start: 0 }
    const t = this.now()
    const refused = this.refuses(call, t)
    return refused !== undefined ? Promise.resolve(refused) : this.through(attempt, t)
  }

  private async through(attempt: Attempt, t: number): Promise<Outcome> {
    const tickets: unknown[] = []
    let outcome: Outcome
    try {
      const admitted = this.admitFrom(0, attempt, t, tickets)
      const denied = admitted instanceof Promise ? await admitted : admitted
      outcome = denied ?? (await this.innermost.run(attempt))
    } catch (error) {
      // A stage threw where it should have answered: the call rejects with it, and what the attempt holds is given back.
      outcome = refusal('request', error)
    }
    this.settle(attempt, tickets, outcome)
    return outcome
  }

  /**
   * Admits the attempt gate by gate from gate `i` (a ticket each, pushed on `tickets`); returns the
   * first denial, or undefined once all admitted. Synchronous unless a gate must wait, so that the
   * request goes out in the caller's turn whenever no gate waits.
   */
  private admitFrom(i: number, attempt: Attempt, t: number, tickets: unknown[]): Outcome | undefined | Promise<Outcome | undefined> {
    const states = attempt.call.states
    for (; i < this.gates.length; i++) {
      const { stage, index } = this.gates[i]!
      const ticket = stage.admit === undefined ? undefined : stage.admit(states[index], attempt, t)
      if (ticket instanceof Promise) {
        const next = i + 1
        return ticket.then((waited) => {
          if (isDenial(waited)) return waited
          tickets.push(waited)
          return this.admitFrom(next, attempt, this.now(), tickets)
        })
      }
      if (isDenial(ticket)) return ticket
      tickets.push(ticket)
    }
    attempt.start = t
    return undefined
  }

  /** Inner gates first: what an inner gate holds is given back before the outer one's. */
  private settle(attempt: Attempt, tickets: unknown[], outcome: Outcome): void {
    const states = attempt.call.states
    for (let i = tickets.length - 1; i >= 0; i--) {
      const { stage, index } = this.gates[i]!
      stage.settle?.(states[index], attempt, tickets[i], outcome)
    }
  }
}

/** Builds the chain: wrappers nest outer to inner around one run of the gates around the transport. */
export function compose(stages: readonly AnyStage[], innermost: Innermost, now: () => number): Chain {
  const wrappers: Indexed<Wrapper>[] = []
  const gates: Indexed<Gate>[] = []
  stages.forEach((stage, index) => {
    if (stage.run !== undefined) wrappers.push({ stage: stage as Wrapper, index })
    if (stage.admit !== undefined || stage.refuses !== undefined) gates.push({ stage: stage as Gate, index })
  })
  const answering = wrappers.filter(({ stage }) => stage.answersRefusals !== undefined)
  const gateRun = new GateRun(gates, innermost, now)
  let run: Next = gateRun.attempt
  for (let i = wrappers.length - 1; i >= 0; i--) {
    const { stage, index } = wrappers[i]!
    const inner = run
    // A wrapper's `next(call, signal)` reaches the gates with that signal only when it is the innermost wrapper (hedging).
    run = (call) => stage.run(call, inner, call.states[index])
  }
  return {
    stages,
    order: [...stages.map((stage) => stage.name), ...innermost.names],
    run: (call) => run(call),
    refusal: (call, t) => (answering.some(({ stage }) => stage.answersRefusals!(call)) ? undefined : gateRun.refuses(call, t)),
  }
}
