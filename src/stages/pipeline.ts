import type { TimeoutError } from '../errors.js'
import { discard, isDenial, refusal, type Attempt, type Call, type Gate, type Next, type Outcome, type Refusal, type Stage, type Transport, type Wrapper } from './types.js'

/** A stage of the chain: a wrapper, a gate, or both (the total deadline sets the call's deadline and checks it per attempt). */
export type AnyStage = Stage & Partial<Pick<Wrapper, 'run' | 'answersRefusals'> & Pick<Gate, 'refuses' | 'admit' | 'settle'>>

/** The innermost part: the attempt deadline and the transport. */
export interface Innermost {
  readonly names: readonly string[]
  readonly run: Transport
  /**
   * Whether `run` ends each attempt itself: it resolves with `attempt.end(outcome)`, so the gates
   * settle in its own frame (one async frame per attempt) and it never rejects. Otherwise the
   * pipeline awaits `run` and settles the gates after it.
   */
  readonly ends?: boolean
  /**
   * Reports a timeout: an attempt of the call of `key` that a gate refused because a deadline passed
   * (in a queue, or at the total deadline), reported as `run` reports one it meets (the `timeout`
   * event, `totals.timeouts`). Named as the event: the name is kept in the bundle.
   */
  readonly timeout?: (key: string, error: TimeoutError) => void
}

/** The chain an instance builds once. */
export interface Chain {
  /** Every stage outer to inner; a key's `states` follow this order. */
  readonly stages: readonly Stage[]
  /** The attempt deadline and the transport, inside every stage. */
  readonly innermost: Innermost
  /** Runs a call through every stage; never rejects. */
  run(call: Call): Promise<Outcome>
  /** A gate's refusal given at once, before the call goes async; undefined when a wrapper may answer refusals. */
  refusal(call: Call, t: number): Refusal | undefined
}

/**
 * One run of the gates around the innermost part, per attempt: the gates admit in order and settle
 * inner first, with the attempt's outcome. `refuses` is their synchronous fast path.
 */
function gateRun(stages: readonly AnyStage[], innermost: Innermost, now: () => number) {
  const gates = stages.filter((stage) => stage.admit || stage.refuses) as Gate[]
  // Where each gate's state sits among a key's states.
  const slots = gates.map((gate) => stages.indexOf(gate))

  /** An attempt as the gates see it, with what they lent it (inner last) and `end`, which gives it back. */
  class Flight implements Attempt {
    start = 0
    /** How many gates admitted it, outer first. */
    admitted = 0
    /** What each gate that admitted it lent, outer first: sized once (a push would grow it to sixteen). */
    readonly tickets: unknown[] = new Array(gates.length)
    constructor(
      readonly call: Call,
      readonly signal: AbortSignal | undefined,
      readonly controller: AbortController | undefined,
    ) {}

    /** Settles the gates that admitted the attempt, inner first, with its outcome; returns the outcome. */
    end(outcome: Outcome): Outcome {
      return settle(gates, slots, this, outcome)
    }
  }

  /**
   * A gate's denial as it becomes the attempt's outcome. A refusal because a deadline passed is a
   * timeout: reported here once, whatever the gate (a new gate needs nothing more). Only on a denial.
   */
  function denied<O extends Outcome>(call: Call, outcome: O): O {
    // An abort has a reason too (the caller's, which may be the string 'deadline'): only a refusal's is a deadline.
    if (outcome.kind === 'refused' && outcome.reason === 'deadline') innermost.timeout?.(call.key, outcome.error as TimeoutError)
    return outcome
  }

  /** The first synchronous refusal of a gate; nothing is taken. */
  function refuses(call: Call, t: number): Refusal | undefined {
    for (let i = 0; i < gates.length; i++) {
      const refused = gates[i]!.refuses?.(call.states[slots[i]!], call, t)
      if (refused !== undefined) return denied(call, refused)
    }
    return undefined
  }

  /**
   * Admits the attempt gate by gate from gate `i` (a ticket each, kept on the flight); returns the
   * first denial, or undefined once all admitted. Synchronous unless a gate must wait, so that the
   * request goes out in the caller's turn whenever no gate waits.
   */
  function admit(i: number, flight: Flight, t: number): Outcome | undefined | Promise<Outcome | undefined> {
    for (; i < gates.length; i++) {
      const ticket = gates[i]!.admit?.(flight.call.states[slots[i]!], flight, t)
      if (ticket instanceof Promise) {
        const next = i + 1
        return ticket.then((waited) => (isDenial(waited) ? waited : ((flight.tickets[flight.admitted++] = waited), admit(next, flight, now()))))
      }
      if (isDenial(ticket)) return ticket
      flight.tickets[flight.admitted++] = ticket
    }
    flight.start = t
    return undefined
  }

  // A stage threw where it should have answered: the call rejects with it, and what the attempt holds is given back.
  const threw = (flight: Flight, error: unknown) => flight.end(refusal('request', error))

  /** The admitted attempt through the innermost part; the gates settle when it ends. */
  function send(flight: Flight): Promise<Outcome> {
    let sent: Promise<Outcome>
    try {
      sent = innermost.run(flight)
    } catch (error) {
      return Promise.resolve(threw(flight, error))
    }
    return innermost.ends ? sent : sent.then((outcome) => flight.end(outcome), (error: unknown) => threw(flight, error))
  }

  const attempt: Next = (call, controller) => {
    const t = now()
    const refused = call.checked ? undefined : refuses(call, t)
    call.checked = false
    if (refused !== undefined) return Promise.resolve(refused)
    const flight = new Flight(call, controller?.signal ?? call.signal, controller)
    let admitted: Outcome | undefined | Promise<Outcome | undefined>
    try {
      admitted = admit(0, flight, t)
    } catch (error) {
      return Promise.resolve(threw(flight, error))
    }
    if (admitted === undefined) return send(flight)
    if (!(admitted instanceof Promise)) return Promise.resolve(flight.end(denied(call, admitted)))
    return admitted.then((denial) => (denial === undefined ? send(flight) : flight.end(denied(call, denial))), (error: unknown) => threw(flight, error))
  }

  return { refuses, attempt }
}

/**
 * Settles the gates that admitted `flight`, inner first. Each settles whatever the one before it
 * did: a gate that throws (a bug) keeps nothing of the others', and the attempt then ends as its
 * error, a response's body cancelled. A try/catch costs nothing until something throws.
 */
function settle(gates: readonly Gate[], slots: readonly number[], flight: Attempt & { tickets: unknown[]; admitted: number }, outcome: Outcome): Outcome {
  const { tickets, call } = flight
  let thrown: Refusal | undefined
  for (let i = flight.admitted; i-- > 0; ) {
    try {
      gates[i]!.settle?.(call.states[slots[i]!], flight, tickets[i], outcome)
    } catch (error) {
      thrown ??= refusal('request', error)
    }
  }
  if (thrown === undefined) return outcome
  discard(outcome)
  return thrown
}

/** Builds the chain: wrappers nest outer to inner around one run of the gates around the transport. */
export function compose(given: readonly (AnyStage | undefined)[], innermost: Innermost, now: () => number): Chain {
  // A stage that is off is not in the chain at all.
  const stages = given.filter((stage) => stage !== undefined)
  const answering = stages.filter((stage) => stage.answersRefusals)
  // `run` starts as one attempt through the gates; each wrapper then wraps it, inner first.
  let { refuses, attempt: run } = gateRun(stages, innermost, now)
  for (let i = stages.length; i-- > 0; ) {
    const wrapper = stages[i] as Wrapper
    // `i` is this iteration's own binding (a `let` of the loop): the closure keeps it.
    const inner = run
    // A wrapper's `next(call, controller)` reaches the gates with it only when it is the innermost wrapper (hedging).
    if (wrapper.run) run = (call) => wrapper.run(call, inner, call.states[i])
  }
  return {
    stages,
    innermost,
    run,
    refusal(call, t) {
      for (const wrapper of answering) if (wrapper.answersRefusals!(call)) return undefined
      const refused = refuses(call, t)
      call.checked = refused === undefined
      return refused
    },
  }
}

/** The chain's names outer to inner, ending with the attempt deadline and the transport: for tests and debugging (a bundle drops it). */
export function orderOf(chain: Chain): string[] {
  return [...chain.stages.map((stage) => stage.name), ...chain.innermost.names]
}
