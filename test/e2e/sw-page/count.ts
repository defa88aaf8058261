/**
 * Imported first by sw.ts, so it runs before the library does: counts the host timers left armed, and the promises
 * handed to `event.waitUntil` not settled yet (a Service Worker is kept alive, and busy, until every one has); keeps
 * what was said with console.warn (a Service Worker's console is not the page's).
 */
const armed = new Set<unknown>()
const setTimer = globalThis.setTimeout
const clearTimer = globalThis.clearTimeout
globalThis.setTimeout = ((run: (...args: unknown[]) => void, ms?: number, ...args: unknown[]) => {
  const id = setTimer(
    (...rest: unknown[]) => {
      armed.delete(id)
      run(...rest)
    },
    ms,
    ...args,
  )
  armed.add(id)
  return id
}) as typeof setTimeout
globalThis.clearTimeout = ((id?: ReturnType<typeof setTimeout>) => {
  armed.delete(id)
  clearTimer(id)
}) as typeof clearTimeout

let waiting = 0
/** `event.waitUntil`, counting what it was handed until it settles. */
export function counted(waitUntil: (promise: Promise<unknown>) => void): (promise: Promise<unknown>) => void {
  return (promise) => {
    waiting++
    const done = () => void waiting--
    promise.then(done, done)
    waitUntil(promise)
  }
}

export const pending = () => ({ timers: armed.size, waitUntil: waiting })

const warned: string[] = []
const warn = console.warn.bind(console)
console.warn = (...args: unknown[]) => {
  warned.push(args.map(String).join(' '))
  warn(...args)
}
/** What the Service Worker said with console.warn, each as one line. */
export const warnings = () => warned
