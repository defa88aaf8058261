import { vi } from 'vitest'
import { normalizeRetry } from '../../src/options.js'
import { failoverStage, type FailoverBudgets, type FailoverOptions } from '../../src/stages/failover.js'
import type { Call, Next, Outcome } from '../../src/stages/types.js'
import { testCall, testRuntime } from './helpers.js'

export const A = 'https://a.test'
export const B = 'https://b.test'
export const C = 'https://c.test'

export type Answer = (signal: AbortSignal | undefined) => Outcome | Promise<Outcome>

/** A failover stage over targets A, B, C (those answered, in that order) whose `next` answers per target and records who was asked. */
export function failoverSetup(answers: Record<string, Answer>, options: Partial<FailoverOptions> = {}, method = 'GET') {
  const { runtime, totals } = testRuntime(Date.now)
  const asked: string[] = []
  const call = testCall({ method })
  const targets: Call[] = [A, B, C].filter((key) => key in answers).map((key) => ({ ...call, key, url: `${key}/x`, input: `${key}/x` }))
  const stage = failoverStage({ targets: () => targets, healthy: () => true, retry: normalizeRetry(undefined), hedge: undefined, ...options }, runtime)
  const next = vi.fn<Next>(async (target, controller) => (asked.push(target.key), answers[target.key]!(controller?.signal)))
  const budgets = stage.forKey!('route') as FailoverBudgets
  return { stage, run: () => stage.run(call, next, budgets), asked, totals, budgets }
}
