import { type NormalizedFallbackOptions, stageFallback } from '../src/fallback.js'

/** A Fallback alone, as the fallback stage makes it: its storeerror events go to `emit`, its clock is `now`. */
export function createFallback(
  options: NormalizedFallbackOptions,
  emit: (type: 'storeerror', detail: { key: string; error: unknown }) => void,
  now: () => number = () => Date.now(),
) {
  return stageFallback(options, { events: { emit } as never, now })
}
