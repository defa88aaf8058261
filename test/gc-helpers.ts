/**
 * For the tests that a caller's abort still reaches a body after garbage collections (test/signal-leak.test.ts,
 * test/body-rekey.test.ts): real GCs in Node, an upstream on 127.0.0.1 that streams without end, a caller that
 * keeps only the body's reader, and bounded waits.
 */
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import v8 from 'node:v8'
import vm from 'node:vm'
import { expect } from 'vitest'

v8.setFlagsFromString('--expose-gc')
export const gc = vm.runInNewContext('gc') as () => void

/** Runs full garbage collections, with turns of the event loop between them for finalizers and weak cells. */
export async function collect(): Promise<void> {
  for (let i = 0; i < 5; i++) {
    gc()
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

/** How `promise` stands after at most `ms`: its value, its error, or still pending. */
export function within(promise: Promise<unknown>, ms = 2_000): Promise<{ value: unknown } | { error: unknown } | 'pending'> {
  const late = new Promise<'pending'>((resolve) => setTimeout(resolve, ms, 'pending'))
  return Promise.race([promise.then((value) => ({ value }), (error: unknown) => ({ error })), late])
}

/** That `promise` rejects with `reason` itself, within 2 s (else the abort never arrived). */
export async function expectRejectsWith(promise: Promise<unknown>, reason: Error): Promise<void> {
  const settled = await within(promise)
  expect(settled).toEqual({ error: reason })
  expect((settled as { error: unknown }).error).toBe(reason)
}

/**
 * An upstream that answers a 200 the fallback may store after 50 ms (so a second caller can join a coalesced
 * request), sends one chunk and never ends; with its connections' closes.
 */
export async function streamingUpstream(): Promise<{ url: string; closed: Promise<void>[]; close: () => void }> {
  const closed: Promise<void>[] = []
  const server = createServer((req, res) => {
    closed.push(new Promise((resolve) => req.socket.once('close', () => resolve())))
    setTimeout(() => {
      res.writeHead(200, { 'cache-control': 'max-age=60' })
      res.write('first')
    }, 50)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const close = () => {
    server.closeAllConnections()
    server.close()
  }
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, closed, close }
}

/**
 * The caller keeps only the body's reader, as `(await rf(url, { signal })).body.getReader()` does: the
 * Response is gone at the next GC. Returns a weak reference to it too, to show that it really went.
 */
export async function readerOnly(f: typeof fetch, url: string, signal: AbortSignal) {
  const response = await f(url, { signal })
  const reader = response.body!.getReader()
  await reader.read()
  return { reader, response: new WeakRef(response) }
}
