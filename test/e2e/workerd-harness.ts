/**
 * A Worker written inline (a module importing src/) run in workerd through Miniflare, as wrangler would bundle it:
 * for the e2e cases of the library's behaviour across a Worker's incoming requests (one instance per isolate).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { build } from 'esbuild'
import { Miniflare } from 'miniflare'

export interface WorkerBundle {
  /** A new isolate running the Worker (call `dispose()` on it). */
  start(): Promise<Miniflare>
  /** Deletes the bundle's folder. */
  remove(): Promise<void>
}

/** Bundles `source` into a temporary folder named after `name`. */
export async function bundleWorker(source: string, name: string): Promise<WorkerBundle> {
  const dir = await mkdtemp(join(tmpdir(), `rf-${name}-`))
  await writeFile(join(dir, 'entry.js'), source)
  await build({ entryPoints: [join(dir, 'entry.js')], bundle: true, format: 'esm', platform: 'neutral', target: 'es2022', outfile: join(dir, 'worker.mjs'), logLevel: 'error' })
  return {
    async start() {
      const miniflare = new Miniflare({ modules: true, scriptPath: join(dir, 'worker.mjs'), modulesRoot: dir, compatibilityDate: '2026-04-01', compatibilityFlags: ['enable_request_signal'] })
      await miniflare.ready
      return miniflare
    },
    remove: () => rm(dir, { recursive: true, force: true }),
  }
}
