import { type NormalizedFallbackOptions, stageFallback } from '../src/fallback.js'

/** A Fallback alone, as the fallback stage makes it: its storeerror events go to `emit`, its clock is `now`. */
export function createFallback(
  options: NormalizedFallbackOptions,
  emit: (type: 'storeerror', detail: { key: string; error: unknown }) => void,
  now: () => number = () => Date.now(),
) {
  return stageFallback(options, { events: { emit } as never, now })
}

/** A 200 whose body sends its first chunk now and ends on `end()`. */
export function slowResponse(): { response: Response; end: () => void } {
  let end!: () => void
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(new TextEncoder().encode('{"user":'))
      end = () => {
        controller.enqueue(new TextEncoder().encode('"old"}'))
        controller.close()
      }
    },
  })
  return { response: new Response(body, { headers: { 'content-type': 'application/json' } }), end: () => end() }
}
