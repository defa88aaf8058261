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

/** What an attempt's gates lent it so far, inner last (a gate without `admit` lends undefined). */
type Tickets = unknown[]

/**
 * Builds the chain: wrappers nest outer to inner around one run of the gates around the transport.
 * Per attempt, the gates admit in order and settle inner first, with the attempt's outcome.
 */
export function compose(given: readonly (AnyStage | undefined)[], innermost: Innermost, now: () => number): Chain {
  // A stage that is off is not in the chain at all.
  const stages = given.filter((stage) => stage !== undefined)
  const gates = stages.filter((stage) => stage.admit !== undefined || stage.refuses !== undefined) as Gate[]
  // Where each gate's state sits among a key's states.
  const slots = gates.map((gate) => stages.indexOf(gate))
  const answering = stages.filter((stage) => stage.answersRefusals !== undefined)

  /** The first synchronous refusal of a gate; nothing is taken. */
  function refuses(call: Call, t: number): Refusal | undefined {
    for (let i = 0; i < gates.length; i++) {
      const refused = gates[i]!.refuses?.(call.states[slots[i]!], call, t)
      if (refused !== undefined) return refused
    }
    return undefined
  }

  /**
   * Admits the attempt gate by gate from gate `i` (a ticket each, pushed on `tickets`); returns the
   * first denial, or undefined once all admitted. Synchronous unless a gate must wait, so that the
   * request goes out in the caller's turn whenever no gate waits.
   */
  function admit(i: number, attempt: Attempt, t: number, tickets: Tickets): Outcome | undefined | Promise<Outcome | undefined> {
    for (; i < gates.length; i++) {
      const ticket = gates[i]!.admit?.(attempt.call.states[slots[i]!], attempt, t)
      if (ticket instanceof Promise) {
        const next = i + 1
        return ticket.then((waited) => (isDenial(waited) ? waited : (tickets.push(waited), admit(next, attempt, now(), tickets))))
      }
      if (isDenial(ticket)) return ticket
      tickets.push(ticket)
    }
    attempt.start = t
    return undefined
  }

  async function through(attempt: Attempt, t: number): Promise<Outcome> {
    const tickets: Tickets = []
    let outcome: Outcome
    try {
      const admitted = admit(0, attempt, t, tickets)
      outcome = (admitted instanceof Promise ? await admitted : admitted) ?? (await innermost.run(attempt))
    } catch (error) {
      // A stage threw where it should have answered: the call rejects with it, and what the attempt holds is given back.
      outcome = refusal('request', error)
    }
    const states = attempt.call.states
    for (let i = tickets.length; i-- > 0; ) gates[i]!.settle?.(states[slots[i]!], attempt, tickets[i], outcome)
    return outcome
  }

  const attempt: Next = (call, controller) => {
    const t = now()
    const refused = refuses(call, t)
    return refused !== undefined ? Promise.resolve(refused) : through({ call, signal: controller === undefined ? call.signal : controller.signal, controller, start: 0 }, t)
  }

  let run = attempt
  for (let i = stages.length; i-- > 0; ) {
    const wrapper = stages[i] as Wrapper
    const [inner, slot] = [run, i]
    // A wrapper's `next(call, controller)` reaches the gates with it only when it is the innermost wrapper (hedging).
    if (wrapper.run !== undefined) run = (call) => wrapper.run(call, inner, call.states[slot])
  }
  return {
    stages,
    order: [...stages.map((stage) => stage.name), ...innermost.names],
    run,
    refusal(call, t) {
      for (const wrapper of answering) if (wrapper.answersRefusals!(call)) return undefined
      return refuses(call, t)
    },
  }
}
