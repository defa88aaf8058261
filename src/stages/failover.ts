import type { NormalizedHedge, NormalizedRetry } from '../options.js'
import { RetryBudget } from '../budget.js'
import { outcomeVerdict, race, type HedgeRunner } from './hedge.js'
import { discard, reachedNetwork, type Call, type Next, type Outcome, type Runtime, type Wrapper } from './types.js'

/** What the failover wrapper needs from its owner: where a call may go, and whether a target looks healthy. */
export interface FailoverOptions {
  /** The call as sent to each of its targets (its own `key`, `input` and `url`), in the order to try them: healthy ones first. */
  targets(call: Call): readonly Call[]
  /** Whether a target's breaker would take an attempt now: a hedge never goes to one that would not. */
  healthy(target: Call, t: number): boolean
  /** The retry policy: its `methods` get the one retry on another target, spent from its `budget`. */
  retry: NormalizedRetry | false
  /** Hedging across targets: after `delay` ms with no answer, a GET also goes to the next healthy target, within `budget`. */
  hedge: { delay: number; budget: NormalizedHedge['budget'] } | undefined
}

/** Per key (the proxy's route): the retries and hedges it may still spend. */
export interface FailoverBudgets {
  readonly retries: RetryBudget | undefined
  readonly hedges: RetryBudget | undefined
}

/** ms a refusal without a Retry-After (a full bulkhead) takes to clear. */
const REFUSAL_CLEARS_IN = 1_000

/**
 * The failover wrapper: one call across several targets (origins), each through its own gates. An
 * idempotent call that fails on one target gets one retry on the next (within the retry budget);
 * refused targets (open breaker, full bulkhead) are passed over without using up the attempt. With
 * `hedge`, a GET still unanswered after the delay also goes to the next healthy target; the first
 * good answer wins and the other attempt is aborted (unless it holds its target's half-open probe
 * slot: it is left to finish, so that breaker gets its verdict; its answer is discarded). Innermost wrapper: it passes each attempt its signal.
 */
export function failoverStage(options: FailoverOptions, runtime: Runtime): Wrapper<FailoverBudgets> {
  const { now, totals } = runtime
  const { retry, hedge } = options
  const retryBudget = retry && retry.budget ? retry.budget : undefined
  const hedgeBudget = hedge?.budget || undefined

  /** Attempt on `targets[i]`, and when `hedge` allows, a hedge on `targets[i + 1]`; `hedged`: both were asked. */
  async function first(call: Call, next: Next, targets: readonly Call[], i: number, budgets: FailoverBudgets): Promise<{ outcome: Outcome; hedged: boolean }> {
    const second = targets[i + 1]
    if (hedge === undefined || call.method !== 'GET' || second === undefined || !options.healthy(second, now())) return { outcome: await next(targets[i]!), hedged: false }
    let hedged = false
    const runner: HedgeRunner<Outcome> = {
      attempt: (n, controller) => next(targets[i + n - 1]!, controller),
      // A target refused at its gates never replaces an answer that reached the network.
      verdict: outcomeVerdict,
      discard,
      waitUntil: call.waitUntil,
      mayHedge() {
        if (budgets.hedges !== undefined && !budgets.hedges.trySpend(now())) return false
        totals.hedges++
        return (hedged = true)
      },
    }
    const { result } = await race(runner, hedge.delay, 1, call.signal)
    return { outcome: result, hedged }
  }

  async function failover(call: Call, next: Next, budgets: FailoverBudgets): Promise<Outcome> {
    const targets = options.targets(call)
    const attempts = retries(retry, call.method) && targets.length > 1 ? 2 : 1
    let ended: Outcome | undefined
    let reached = 0
    let spent = false
    for (let i = 0; i < targets.length && reached < attempts; i++) {
      // The retry is spent from the key's budget, once, however many targets refuse it at their gates: past it, the failure stands.
      if (reached === 1 && !spent && budgets.retries !== undefined && !(spent = budgets.retries.trySpend(now()))) break
      const { outcome, hedged } = reached === 0 ? await first(call, next, targets, i, budgets) : { outcome: await next(targets[i]!), hedged: false }
      if (outcome.kind === 'aborted') return outcome
      if (reachedNetwork(outcome) && reached++ === 1) totals.retries++
      ended = pick(ended, outcome)
      // A good answer, or both targets asked by a hedge: no attempt is left.
      if ((outcome.kind === 'response' && !outcome.failure) || hedged) return ended === outcome ? outcome : (discard(outcome), ended)
    }
    return ended!
  }

  return {
    name: 'failover',
    forKey: () => ({ retries: retryBudget && new RetryBudget(retryBudget), hedges: hedgeBudget && new RetryBudget(hedgeBudget) }),
    run(call, next, budgets) {
      const t = now()
      budgets.retries?.recordCall(t)
      budgets.hedges?.recordCall(t)
      return failover(call, next, budgets)
    },
  }
}

/** Whether a call of `method` may get the retry on another target: its owner reads a body to send twice only then. */
export function retries(retry: NormalizedRetry | false, method: string): boolean {
  return retry !== false && retry.methods.has(method)
}

/** Of two refusals, the one that clears sooner; an outcome that reached the network always wins over a refusal. */
function pick(current: Outcome | undefined, next: Outcome): Outcome {
  if (current === undefined || reachedNetwork(next)) return discard(current), next
  if (reachedNetwork(current)) return current
  return clearsIn(next) < clearsIn(current) ? next : current
}

function clearsIn(outcome: Outcome): number {
  const retryAfter = outcome.kind === 'refused' ? (outcome.error as { retryAfter?: unknown }).retryAfter : undefined
  return typeof retryAfter === 'number' ? retryAfter : REFUSAL_CLEARS_IN
}

