/** Whether a caller's abort still ends a body of which it kept only the reader, after real GCs in Chromium. */
import { createResilientFetch } from '../../../src/index.js'
import type { ResilientFetchOptions } from '../../../src/types.js'

/** Chromium launched with --js-flags=--expose-gc. */
declare const gc: () => void

/** Full GCs with turns of the event loop between them, so WeakRefs held for the current job are let go. */
async function collect(): Promise<void> {
  for (let i = 0; i < 5; i++) {
    gc()
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

/** The caller keeps only the body's reader: the Response is unreachable once this returns (a weak reference shows whether it went). */
async function readerOnly(f: typeof fetch, url: string, signal: AbortSignal) {
  const response = await f(url, { signal })
  const reader = response.body!.getReader()
  await reader.read()
  return { reader, response: new WeakRef(response) }
}

/** Reads on until the body ends or errors, or `ms` pass while it still streams. */
async function drain(reader: ReadableStreamDefaultReader<Uint8Array>, ms: number): Promise<string> {
  const until = performance.now() + ms
  for (;;) {
    const left = until - performance.now()
    const late = new Promise<string>((resolve) => setTimeout(resolve, Math.max(0, left), 'still streaming'))
    const read = reader.read().then(
      ({ done }) => (done ? 'ended' : 'chunk'),
      (error: unknown) => `rejected: ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`,
    )
    const step = await Promise.race([read, late])
    if (step !== 'chunk') return step
  }
}

/** One call with `options`: the reader alone is kept, GCs run, then the caller aborts. */
async function abortAfterGc(url: string, options: ResilientFetchOptions) {
  const rf = createResilientFetch(options)
  const controller = new AbortController()
  const { reader, response } = await readerOnly(rf, url, controller.signal)
  await collect()
  const responseWent = response.deref() === undefined
  controller.abort(new Error('left the page'))
  return { responseWent, body: await drain(reader, 3_000) }
}

const probe = { abortAfterGc, hasGc: () => typeof gc === 'function' }

declare global {
  interface Window {
    abortGc: typeof probe
  }
}
window.abortGc = probe
document.documentElement.dataset.ready = 'true'
