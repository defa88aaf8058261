import type { IncomingMessage } from 'node:http'
import { vi } from 'vitest'

export interface Pending {
  url: string
  init: RequestInit | undefined
  signal: AbortSignal | undefined
  respond(status?: number, headers?: HeadersInit, body?: BodyInit | null): void
  fail(error?: unknown): void
}

/**
 * A transport whose calls wait until the test answers them; it honours the signal the way fetch does
 * (rejects with signal.reason).
 */
export function controlledTransport() {
  const pending: Pending[] = []
  const calls: Pending[] = []
  const fetch = vi.fn((input: RequestInfo | URL, init?: RequestInit) => {
    return new Promise<Response>((resolve, reject) => {
      const signal = init?.signal ?? (input instanceof Request ? input.signal : undefined) ?? undefined
      const entry: Pending = {
        url: typeof input === 'string' ? input : input instanceof URL ? input.href : input.url,
        init,
        signal,
        respond(status = 200, headers, body = null) {
          remove()
          resolve(new Response(body, { status, headers }))
        },
        fail(error = new TypeError('fetch failed')) {
          remove()
          reject(error)
        },
      }
      const remove = () => {
        const i = pending.indexOf(entry)
        if (i >= 0) pending.splice(i, 1)
      }
      if (signal?.aborted) return reject(signal.reason)
      signal?.addEventListener('abort', () => {
        remove()
        reject(signal.reason)
      })
      pending.push(entry)
      calls.push(entry)
    })
  })
  return { fetch: fetch as unknown as typeof globalThis.fetch, mock: fetch, pending, calls }
}

/** A transport that answers at once with the statuses given, in turn (the last repeats). */
export function statusTransport(...statuses: (number | Error | [number, HeadersInit])[]) {
  let i = 0
  const fetch = vi.fn(async () => {
    const next = statuses[Math.min(i++, statuses.length - 1)]!
    if (next instanceof Error) throw next
    const [status, headers] = Array.isArray(next) ? next : [next, undefined]
    return new Response(status === 204 ? null : `s${status}`, { status, headers })
  })
  return { fetch: fetch as unknown as typeof globalThis.fetch, mock: fetch }
}

/** Lets queued promise callbacks run. */
export async function flush(times = 5): Promise<void> {
  for (let i = 0; i < times; i++) await Promise.resolve()
}

/** The reason a promise rejects with; fails the test if it resolves. */
export async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise
  } catch (error) {
    return error
  }
  throw new Error('expected a rejection')
}

/** Background work calls hand to `resilience.waitUntil`, settled by the test (Node settles bodies through setImmediate). */
export function backgroundWork() {
  const pending: Promise<unknown>[] = []
  return {
    resilience: { waitUntil: (p: Promise<unknown>) => void pending.push(p) },
    async settle(): Promise<void> {
      while (pending.length > 0) await Promise.allSettled(pending.splice(0))
      await new Promise((r) => setImmediate(r))
    },
  }
}

/** What `run` throws, as `ClassName: message`; 'no error' when it returns. */
export function thrown(run: () => unknown): string {
  try {
    run()
  } catch (error) {
    return `${(error as Error).constructor.name}: ${(error as Error).message}`
  }
  return 'no error'
}

/** A node:http request's body, read to its end as UTF-8 text. */
export function requestBody(req: IncomingMessage): Promise<string> {
  return new Promise<string>((resolve) => {
    let text = ''
    req.setEncoding('utf8')
    req.on('data', (chunk: string) => (text += chunk))
    req.on('end', () => resolve(text))
  })
}
