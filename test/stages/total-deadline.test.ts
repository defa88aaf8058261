import { describe, expect, it, vi } from 'vitest'
import { normalizeTimeout } from '../../src/options.js'
import { TimeoutError } from '../../src/errors.js'
import { totalDeadlineStage } from '../../src/stages/total-deadline.js'
import { ok, testCall } from './helpers.js'

describe('total deadline stage', () => {
  it('sets the call deadline from timeout.total and refuses any attempt at or after it', async () => {
    const stage = totalDeadlineStage()
    const call = testCall({ at: 5_000, timeout: normalizeTimeout({ attempt: 100, total: 1_000 }) })
    const next = vi.fn(async () => ok(200))
    await stage.run(call, next)
    expect(next).toHaveBeenCalledWith(call)
    expect(call.deadline).toBe(6_000)
    expect(stage.refuses(undefined, call, 5_999)).toBeUndefined()
    const refused = stage.refuses(undefined, call, 6_000)
    expect(refused).toMatchObject({ kind: 'refused', reason: 'deadline' })
    expect(refused!.error).toBeInstanceOf(TimeoutError)
    expect(refused!.error).toMatchObject({ scope: 'total', timeout: 1_000 })
  })

  it('without a total there is no deadline', async () => {
    const stage = totalDeadlineStage()
    const call = testCall({ timeout: normalizeTimeout({ attempt: 100, total: false }) })
    await stage.run(call, async () => ok(200))
    expect(call.deadline).toBeUndefined()
    expect(stage.refuses(undefined, call, Number.MAX_SAFE_INTEGER)).toBeUndefined()
  })
})
