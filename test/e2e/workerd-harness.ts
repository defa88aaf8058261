/**
 * A Worker written inline (a module importing src/) run in workerd through Miniflare, as wrangler would bundle it:
 * for the e2e cases of the library's behaviour across a Worker's incoming requests (one instance per isolate).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { createServer, type ServerResponse } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { build, type Plugin } from 'esbuild'
import { Miniflare, type MiniflareOptions } from 'miniflare'
import { afterAll, beforeAll } from 'vitest'
import { closeServer, listen } from './harness.js'

export interface WorkerBundle {
  /** A new isolate running the Worker (call `dispose()` on it); `options` adds to Miniflare's (e.g. `durableObjects`). */
  start(options?: { durableObjects?: Record<string, string> }): Promise<Miniflare>
  /** Deletes the bundle's folder. */
  remove(): Promise<void>
}

/** Bundles `source` into a temporary folder named after `name` (with esbuild `plugins`, if any). */
export async function bundleWorker(source: string, name: string, plugins: Plugin[] = []): Promise<WorkerBundle> {
  const dir = await mkdtemp(join(tmpdir(), `rf-${name}-`))
  await writeFile(join(dir, 'entry.js'), source)
  await build({ entryPoints: [join(dir, 'entry.js')], bundle: true, format: 'esm', platform: 'neutral', target: 'es2022', outfile: join(dir, 'worker.mjs'), logLevel: 'error', plugins })
  return {
    async start(options = {}) {
      const miniflare = new Miniflare({ modules: true, scriptPath: join(dir, 'worker.mjs'), modulesRoot: dir, compatibilityDate: '2026-04-01', compatibilityFlags: ['enable_request_signal'], ...options } as MiniflareOptions)
      await miniflare.ready
      return miniflare
    },
    remove: () => rm(dir, { recursive: true, force: true }),
  }
}

export interface HoldingUpstream {
  /** http://127.0.0.1:port */
  origin: string
  /** The upstream's requests by path, each with its response, held until the test answers it. */
  seen: Map<string, ServerResponse[]>
  /** The same responses, in the order their requests came. */
  all: ServerResponse[]
  /** How many requests reached `path`. */
  requestsTo(path: string): number
  /** Destroys the responses still held and closes the server. */
  close(): Promise<void>
}

/** A node:http upstream on 127.0.0.1 that answers nothing itself: it keeps each request's response, by path, for the test. */
export async function holdingUpstream(): Promise<HoldingUpstream> {
  const seen = new Map<string, ServerResponse[]>()
  const all: ServerResponse[] = []
  const server = createServer((req, res) => {
    const list = seen.get(req.url!) ?? []
    seen.set(req.url!, [...list, res])
    all.push(res)
  })
  const origin = `http://127.0.0.1:${await listen(server)}`
  return {
    origin,
    seen,
    all,
    requestsTo: (path) => seen.get(path)?.length ?? 0,
    async close() {
      for (const res of all) res.destroy()
      await closeServer(server)
    },
  }
}

export interface WorkerAndUpstream {
  /** The Worker's isolate (set before the file's tests run). */
  miniflare: Miniflare
  /** The holdingUpstream the tests answer (set before the file's tests run). */
  upstream: HoldingUpstream
}

/**
 * For a test file (call it at its top level): before all its tests, a holdingUpstream and the Worker `source` (bundled
 * as `name`) started in workerd, with `options`; after all, the isolate disposed of, the upstream closed, the bundle removed.
 */
export function workerAgainstHoldingUpstream(source: string, name: string, options?: Parameters<WorkerBundle['start']>[0], plugins?: Plugin[]): WorkerAndUpstream {
  const env = {} as WorkerAndUpstream
  let worker: WorkerBundle | undefined
  beforeAll(async () => {
    env.upstream = await holdingUpstream()
    worker = await bundleWorker(source, name, plugins)
    env.miniflare = await worker.start(options)
  })
  afterAll(async () => {
    await env.miniflare?.dispose()
    await env.upstream?.close()
    await worker?.remove()
  })
  return env
}

/**
 * Polls `condition` until it holds, without a deadline (every caller waits for what must happen: only the test's own
 * timeout bounds it, so a stalled machine is no failure); true once it held.
 */
export async function until(condition: () => boolean | Promise<boolean>): Promise<boolean> {
  while (!(await condition())) await new Promise((r) => setTimeout(r, 20))
  return true
}
