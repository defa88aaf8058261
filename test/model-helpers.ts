import type fc from 'fast-check'
import { vi } from 'vitest'

/** Math.random from `seed` (mulberry32), so a model's run replays exactly: the seed is part of its counterexample. */
export function seedMathRandom(seed: number): void {
  let a = seed >>> 0
  vi.spyOn(Math, 'random').mockImplementation(() => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  })
}

/** A model's command that lets fake time pass, then has the world check what it holds. */
export class Advance<W extends { step(when: string): Promise<void> }> implements fc.AsyncCommand<W, W> {
  constructor(readonly ms: number) {}
  check = () => true
  async run(world: W) {
    await vi.advanceTimersByTimeAsync(this.ms)
    await world.step(this.toString())
  }
  toString = () => `advance ${this.ms} ms`
}
