/**
 * A share made once and given to instances made and dropped one after another (one per request, per component): a
 * dropped instance is collected, the share does not keep it (nor apply the others' states to it for good).
 */
import { afterEach, describe, expect, it, vi } from 'vitest'
import { createResilientFetch } from '../src/index.js'
import { shareAcrossTabs } from '../src/share/tabs.js'
import { durableObjectShare } from '../src/worker/share.js'
import type { BreakerShare } from '../src/types.js'
import { memoryNamespace } from './coordinator-fakes.js'
import { collect } from './gc-helpers.js'
import { statusTransport } from './helpers.js'

afterEach(() => {
  vi.unstubAllGlobals()
})

/** How many of `n` instances made on `share`, each used once and dropped, are collected, their breakers with them. */
async function collected(share: BreakerShare, n: number): Promise<number> {
  let count = 0
  const registry = new FinalizationRegistry(() => void count++)
  const fetch = statusTransport(200).fetch
  for (let i = 0; i < n; i++) {
    const rf = createResilientFetch({ fetch, share, retry: false, fallback: false })
    await rf('https://a.test/x')
    registry.register(rf.breaker('https://a.test')!, i)
  }
  await collect()
  return count
}

describe('a share outliving the instances made on it', () => {
  it.each([
    ['durableObjectShare', () => durableObjectShare(memoryNamespace().namespace)],
    ['shareAcrossTabs', () => shareAcrossTabs({ name: 'rf-gc-test' })],
  ])('%s: dropped instances are collected', async (_, make) => {
    const share = make()
    expect(await collected(share, 20)).toBeGreaterThanOrEqual(19)
    ;(share as { close?: () => void }).close?.()
  })
})
