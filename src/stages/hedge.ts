import type { LatencySummary } from '../latency.js'
import type { NormalizedHedge } from '../options.js'
import { discard, follow, isAlone, isRequest, keepWith, RetryBudget, sharesTimers } from '../core.js'
import { probing } from './types.js'
import type { Call, Next, Outcome, Runtime, Wrapper } from './types.js'

/** A percentile delay needs this many samples of the key: fewer say too little about its tail. */
export const MIN_SAMPLES = 20

const QUANTILES = { p90: 0.9, p95: 0.95, p99: 0.99 } as const

/** A hedge decision per call may read a percentile up to this many samples old: no sort per call. */
const MAX_STALE = 16

/**
 * The wait before a hedge for this key, or undefined when it may not hedge (too few samples). The percentile read may
 * be a few samples old, but never one sorted before the key had MIN_SAMPLES (a snapshot sorts whenever it is taken).
 */
export function hedgeDelay(delay: NormalizedHedge['delay'], latency: LatencySummary | undefined): number | undefined {
  if (typeof delay === 'number') return delay
  const samples = latency?.samples ?? 0
  if (samples < MIN_SAMPLES) return undefined
  return latency!.percentile(QUANTILES[delay], Math.min(MAX_STALE, samples - MIN_SAMPLES))
}

/**
 * How a settled attempt weighs in the race: it wins, it loses (others may still win), it was refused
 * before the network (it never beats an outcome that reached it), or it ends the call.
 */
export type Verdict = 'win' | 'lose' | 'refused' | 'end'

/** An attempt's outcome as the race judges it: the hedge stage's and the proxy's failover use the same rule. */
export const outcomeVerdict = (o: Outcome): Verdict => (o.kind === 'response' && !o.failure ? 'win' : o.kind === 'aborted' ? 'end' : o.kind === 'refused' ? 'refused' : 'lose')

/** What a hedged call needs from the pipeline: how to run one attempt and how to judge it. */
export interface HedgeRunner<R> {
  /** Runs attempt `n` of the call (1 is the first) through every per-attempt gate, aborted by `controller` (the attempt's own; the attempt deadline aborts it too). */
  attempt(n: number, controller: AbortController): Promise<R>
  /** 'win': not a failure; 'lose': a failure, which wins only if nothing else is in flight; 'refused': never reached the network; 'end': the caller aborted. */
  verdict(result: R): Verdict
  /** How many of the call's attempts have reached the network so far, settled or not. Without it, a failure waits for every attempt in flight. */
  reached?(): number
  /** Drops a result that lost (cancels its body). */
  discard(result: R): void
  /** Hedge `n` is due after `delay` ms: spends the budget, reports it; false when it may not start. */
  mayHedge(n: number, delay: number): boolean
  /** Keeps a loser left to finish (it holds a breaker's probe slot) alive past the call's answer: the call's `waitUntil` (workerd). */
  waitUntil?(settled: Promise<unknown>): void
}

/** The result a hedged call ends with, which attempt produced it (1: the first, not a hedge), and that attempt's controller. */
export interface HedgeWin<R> {
  result: R
  attempt: number
  controller: AbortController
}

type Settled<R> = ({ ok: true; result: R; verdict: Verdict } | { ok: false; error: unknown }) & { n: number; controller: AbortController }

/**
 * Runs attempt 1 and, while no attempt has answered, one more every `delay` ms up to `maxHedges` more.
 * The first result that is not a failure wins and every other attempt is aborted at once, but for one
 * that holds a half-open breaker's probe slot (`probing`) while that breaker still waits for a verdict:
 * it is left to finish (its attempt deadline and the caller's abort still end it), so the breaker gets
 * its verdict, and its answer is discarded; the call does not wait for it. When all fail, the failure
 * that arrived last is the outcome, and a refusal never replaces a failure that reached the network:
 * once no attempt left in flight has reached it (the rest are refused or still waiting at a gate), the
 * call ends with that failure. Each attempt has its own controller, following
 * `signal` (the caller's): the winner's keeps following it, so a caller abort still reaches its body.
 */
export function race<R>(runner: HedgeRunner<R>, delay: number, maxHedges: number, signal: AbortSignal | undefined): Promise<HedgeWin<R>> {
  if (signal?.aborted) return Promise.reject(signal.reason)
  return new Promise<HedgeWin<R>>((resolve, reject) => new Race(runner, delay, maxHedges, signal, resolve, reject).start())
}

/** One hedged call in flight: its attempts' controllers, the pending hedge timer, the failure to end with. */
class Race<R> {
  private readonly controllers: (AbortController | undefined)[] = []
  private readonly unfollows: ((() => void) | undefined)[] = []
  /** Each attempt's settling, for `runner.waitUntil` when it is left to finish. */
  private readonly settling: Promise<void>[] = []
  private inFlight = 0
  private done = false
  private timer: ReturnType<typeof setTimeout> | undefined
  /** The latest failure while others still ran (a refusal only while none reached the network): the outcome if they all fail. */
  private failure: Settled<R> | undefined
  /** Settled attempts that reached the network (their failures; `failure` is one once this is not 0): `runner.reached()` less these are still in flight. */
  private settledReached = 0

  constructor(
    private readonly runner: HedgeRunner<R>,
    private readonly delay: number,
    private readonly maxHedges: number,
    private readonly signal: AbortSignal | undefined,
    private readonly resolve: (win: HedgeWin<R>) => void,
    private readonly reject: (error: unknown) => void,
  ) {}

  start(): void {
    const controller = new AbortController()
    const n = this.controllers.push(controller)
    this.unfollows.push(this.signal === undefined ? undefined : follow(this.signal, controller))
    this.inFlight++
    let pending: Promise<R>
    try {
      pending = this.runner.attempt(n, controller)
    } catch (error) {
      pending = Promise.reject(error)
    }
    this.settling.push(
      pending.then(
        (result) => this.settle({ ok: true, result, verdict: this.runner.verdict(result), n, controller }),
        (error: unknown) => this.settle({ ok: false, error, n, controller }),
      ),
    )
    if (n <= this.maxHedges) this.timer = setTimeout(() => this.hedge(this.delay), this.delay)
  }

  /**
   * Hedge due. Not while an attempt still waits at a gate (a full bulkhead's queue): it has not been slow upstream, and
   * a hedge would wait behind it in that queue, where it could never beat it, taking (or evicting) another call's place.
   * It is due again a delay later: once sent, an attempt that is slow to answer still gets its hedge. `waited`: ms since
   * the latest attempt started.
   */
  private hedge(waited: number): void {
    const waiting = (this.runner.reached?.() ?? Infinity) - this.settledReached < this.inFlight
    this.timer = waiting ? setTimeout(() => this.hedge(waited + this.delay), this.delay) : undefined
    if (!this.done && !waiting && this.runner.mayHedge(this.controllers.length + 1, waited)) this.start()
  }

  private settle(settled: Settled<R>): void {
    this.inFlight--
    this.controllers[settled.n - 1] = undefined
    // A loser left to finish: its verdict is in (the gates settled), its answer is nobody's.
    if (this.done) return this.unfollows[settled.n - 1]?.(), this.drop(settled)
    const verdict = settled.ok ? settled.verdict : 'lose'
    if (verdict === 'win' || verdict === 'end') return this.end(settled)
    if (verdict === 'lose') {
      this.settledReached++
      this.drop(this.failure)
      this.failure = settled
    } else if (this.settledReached === 0) this.failure = settled
    // The attempts still in flight that reached the network: none left, a real failure ends the call rather than wait at a gate.
    if (this.inFlight === 0 || (this.settledReached > 0 && (this.runner.reached?.() ?? Infinity) <= this.settledReached)) this.end(this.failure!)
  }

  /** Ends the call with `settled`; a failure kept before it is dropped. */
  private end(settled: Settled<R>): void {
    const { n, controller } = settled
    if (this.failure !== settled) this.drop(this.failure)
    this.finish(n)
    if (settled.ok) return this.resolve({ result: settled.result, attempt: n, controller })
    this.unfollows[n - 1]?.()
    this.reject(settled.error)
  }

  /**
   * Ends the race: the hedge timer and every attempt but the winner's are stopped at once, but for a
   * probe (it keeps following the caller's signal until it settles).
   */
  private finish(winner: number): void {
    this.done = true
    clearTimeout(this.timer)
    // Built only when some attempt is still running: a DOMException costs tens of µs in Node.
    let lost: DOMException | undefined
    for (let i = 0; i < this.controllers.length; i++) {
      const controller = this.controllers[i]
      if (i + 1 === winner) continue
      if (controller !== undefined && probing.get(controller.signal)?.busy) {
        this.runner.waitUntil?.(this.settling[i]!)
        continue
      }
      this.unfollows[i]?.()
      controller?.abort((lost ??= new DOMException('another attempt of this call won', 'AbortError')))
    }
  }

  private drop(settled: Settled<R> | undefined): void {
    if (settled?.ok) this.runner.discard(settled.result)
  }
}

/**
 * The call as a hedge sends it where the HTTP cache locks (browsers: pages and workers, Service Workers; where host
 * timers are shared too): there a GET for a URL whose entry another request is writing waits until that one has its
 * headers, so a hedge sent through the cache would never beat the attempt it is for. A hedge goes with cache
 * 'no-store' (as if there were no HTTP cache: no lock; the Cache-Control and Pragma no-cache it adds are the
 * browser's own, no CORS preflight), unless the caller's mode keeps it out of the cache already ('no-store') or keeps
 * it off the network ('only-if-cached'). 'force-cache' too: a hedge is due only once the first attempt found no copy
 * to answer with. init's mode wins over the Request's, as in fetch. The same call otherwise (attempts, deadline).
 */
function bypassing(call: Call): Call {
  const cache = call.init?.cache ?? (isRequest(call.input) ? call.input.cache : undefined)
  if (cache === 'no-store' || cache === 'only-if-cached') return call
  const init: RequestInit = { ...call.init, cache: 'no-store' }
  return new Proxy(call, { get: (target, name) => (name === 'init' ? init : Reflect.get(target, name)) })
}

/**
 * The hedge wrapper, innermost of the per-call wrappers: for a call whose method may be hedged, when
 * no attempt has response headers after the delay, one more attempt goes through the gates (up to
 * `maxHedges`, within the key's budget); the first good answer wins, the others are aborted at once
 * (a loser holding a breaker's probe slot is left to finish, for the breaker's verdict).
 * Its per-key state is the hedge budget. Where `cacheLocks` (browsers), a hedge bypasses the HTTP cache (`bypassing`).
 * The chain's latency gate is innermost (buildChain puts it last): a key's latency summary is its last state, read here.
 */
export function hedgeStage(options: NormalizedHedge | false, runtime: Runtime, cacheLocks = sharesTimers()): Wrapper<RetryBudget | undefined> | undefined {
  if (!options) return undefined
  const hedge = options
  const { now, totals, events } = runtime
  const budgetOptions = hedge.budget

  function hedges(call: Call): boolean {
    const asked = call.options?.hedge
    // A navigation sent as it is can be aborted by nothing of ours (so a losing attempt would run on), and a browser's
    // hedge goes with an init (its cache mode), which would make it a same-origin request.
    if (asked === false || call.oneShot || isAlone(call)) return false
    return asked === true || hedge.methods.has(call.method)
  }

  async function hedged(call: Call, next: Next, budget: RetryBudget | undefined, delay: number): Promise<Outcome> {
    const before = call.attempts
    let hedgeCall: Call | undefined
    const runner: HedgeRunner<Outcome> = {
      attempt: (n, controller) => next(n > 1 && cacheLocks ? (hedgeCall ??= bypassing(call)) : call, controller),
      verdict: outcomeVerdict,
      reached: () => call.attempts - before,
      discard,
      waitUntil: call.waitUntil,
      mayHedge(n, waited) {
        if (budget !== undefined && !budget.trySpend(now())) return false
        totals.hedges++
        events.emit('hedge', { key: call.key, attempt: before + n, delay: waited })
        return true
      },
    }
    const { result, attempt, controller } = await race(runner, delay, hedge.maxHedges, call.signal)
    if (result.kind !== 'response') return result
    if (call.signal !== undefined) keepWith(result.response, controller)
    return attempt > 1 ? { ...result, hedged: true } : result
  }

  return {
    name: 'hedge',
    forKey: () => (budgetOptions ? new RetryBudget(budgetOptions) : undefined),
    run(call, next, budget) {
      // Once per call: the retry wrapper runs this stage again for each retry, which follows an attempt that reached the network.
      if (budget !== undefined && call.attempts === 0) budget.recordCall(now())
      const delay = hedges(call) ? hedgeDelay(hedge.delay, call.states.at(-1) as LatencySummary | undefined) : undefined
      return delay === undefined ? next(call) : hedged(call, next, budget, delay)
    },
  }
}
