/** Keys beyond maxKeys: a key with a call running, or that any one of its stages calls busy, is kept. */
import { describe, expect, it } from 'vitest'
import { Keys } from '../src/stages/keys.js'
import type { Stage } from '../src/stages/types.js'

describe('Keys', () => {
  it('drops no key one of whose stages is busy, even when the others are idle', () => {
    const busy = new Set<string>()
    const stages: Stage[] = [
      { name: 'watched', forKey: (key: string) => key, busy: (key: unknown) => busy.has(key as string) },
      { name: 'idle', forKey: () => undefined, busy: () => false },
    ] as never
    const keys = new Keys(stages, 1)
    keys.get('a')
    busy.add('a')
    keys.get('b')
    expect([...keys.values()].map((e) => e.key)).toEqual(['a', 'b'])
    busy.delete('a')
    keys.get('c')
    expect([...keys.values()].map((e) => e.key)).toEqual(['b', 'c'])
  })

  it('drops no key with a call still running, even when its stages are idle', () => {
    const keys = new Keys([{ name: 'idle', forKey: () => undefined, busy: () => false }] as never, 1)
    keys.get('a').calls = 1
    keys.get('b')
    expect([...keys.values()].map((e) => e.key)).toEqual(['a', 'b'])
  })
})
