/**
 * README "In a Service Worker": "`resilientKy()` there works once the worker also imports a value from
 * `resilient-fetch/service-worker`". A bundler that reads the package's `sideEffects: false` (Rollup and Vite through
 * node-resolve, Rolldown) keeps that module's own code only when one of its own exports is used: a worker that imports
 * `resilienceInfo` or an error class from it (beside `resilientKy`, its only other need) lost the lines that load every
 * chunk up front while those were re-exports. Here the package is built as tsup.config.ts builds it (code-split ESM), and
 * Rollup bundles such a worker from it, each module of the package without side effects as node-resolve marks them,
 * code-split, with every import() refused as a Service Worker refuses it; the bundle then calls node:http on 127.0.0.1:
 * the copy is stored and served, nothing is off.
 */
import { readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import * as esbuild from 'esbuild'
import { rollup, type Plugin } from 'rollup'
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import type { resilientKy as ResilientKy } from '../src/integrations/ky.js'
import type { resilienceInfo as ResilienceInfo } from '../src/index.js'
import { installedPackage } from './installed-package.js'

const VALUES = ['resilienceInfo', 'ResilienceError', 'CircuitOpenError', 'BulkheadRejectedError', 'TimeoutError', 'ThrottledError', 'createResilientFetch', 'resilientFetch', 'memoryStore'] as const

/** The package's dist, as tsup builds it (tsup.config.ts): each entry and its chunks. */
let dist: string

/** The package's modules as node-resolve gives them, without side effects (`sideEffects: false`); ky and idb-keyval bundled in. */
const resolvePackage: Plugin = {
  name: 'resolve-package',
  resolveId(source, importer) {
    if (source.startsWith('resilient-fetch/')) return { id: join(dist, `${source.slice('resilient-fetch/'.length)}.js`), moduleSideEffects: false }
    if (source === 'ky' || source === 'idb-keyval') return { id: fileURLToPath(import.meta.resolve(source)) }
    if (importer?.startsWith(dist) && source.startsWith('.')) return { id: resolve(dirname(importer), source), moduleSideEffects: false }
    return null
  },
}

/** Every import() in the output rejects, as in a Service Worker. */
const refuseImport: Plugin = {
  name: 'refuse-import',
  renderDynamicImport: () => ({ left: 'Promise.reject(new TypeError("import() is disallowed on ServiceWorkerGlobalScope"), ', right: ')' }),
}

let dir: string
let server: Server
let origin: string
let failing = false

beforeAll(async () => {
  // Laid out as installed: node_modules/resilient-fetch with the package's package.json (its exports and sideEffects) and dist.
  const installed = await installedPackage('rf-sw-own-')
  dir = installed.project
  dist = installed.dist
  server = createServer((_req, res) => void (failing ? res.writeHead(503).end('down') : res.writeHead(200, { 'content-type': 'application/json' }).end('{"good":true}')))
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done))
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}, 60_000)
afterEach(() => {
  failing = false
  vi.restoreAllMocks()
})
afterAll(async () => {
  server.closeAllConnections()
  await new Promise<void>((done) => server.close(() => done()))
  await rm(dir, { recursive: true, force: true })
})

/** A worker that imports `value` from the Service Worker entry and `resilientKy`, bundled as above; its module. */
async function bundled(value: (typeof VALUES)[number]): Promise<{ resilientKy: typeof ResilientKy; value: unknown }> {
  const worker = `import { ${value} } from 'resilient-fetch/service-worker'\nimport { resilientKy } from 'resilient-fetch/ky'\nexport { ${value} as value, resilientKy }\n`
  const bundle = await rollup({
    input: 'worker',
    plugins: [{ name: 'worker', resolveId: (id) => (id === 'worker' ? id : null), load: (id) => (id === 'worker' ? worker : null) }, resolvePackage, refuseImport],
    onwarn: () => {},
  })
  const out = join(dir, 'workers', value)
  await bundle.write({ dir: out, format: 'es', entryFileNames: 'worker.mjs', chunkFileNames: '[name]-[hash].mjs' })
  await bundle.close()
  return import(pathToFileURL(join(out, 'worker.mjs')).href)
}

/** One GET through `resilientKy` whose copy is written (its waitUntil awaited), then the same GET with the upstream failing. */
async function storeThenFail(resilientKy: typeof ResilientKy) {
  const said = vi.spyOn(console, 'warn').mockImplementation(() => {})
  const api = resilientKy({ retry: false, hedge: { delay: 5_000 }, fallback: { store: 'memory' }, ky: { prefixUrl: origin, throwHttpErrors: false } })
  const storeErrors: string[] = []
  api.resilientFetch.addEventListener('storeerror', (event) => storeErrors.push(String(event.detail.error)))
  const writes: Promise<unknown>[] = []
  const live = await api.get('item', { resilience: { waitUntil: (promise) => void writes.push(promise) } })
  expect(await live.json()).toEqual({ good: true })
  await Promise.allSettled(writes)
  failing = true
  const answered = await api.get('item')
  return { answered, body: await answered.text(), storeErrors, said: said.mock.calls.map((args) => String(args[0])) }
}

describe('the built Service Worker entry under a bundler that reads sideEffects: false', { timeout: 30_000 }, () => {
  it('a worker importing only resilienceInfo from it beside resilientKy: the copy is stored and served over the network, nothing is off', async () => {
    const { resilientKy, value } = await bundled('resilienceInfo')
    const { answered, body, storeErrors, said } = await storeThenFail(resilientKy)
    expect(storeErrors).toEqual([])
    expect(said).toEqual([])
    expect(answered.status).toBe(200)
    expect(body).toBe('{"good":true}')
    expect((value as typeof ResilienceInfo)(answered)?.source).toBe('fallback')
  })

  it.each(VALUES.filter((value) => value !== 'resilienceInfo'))('a worker importing only %s from it: the same', async (value) => {
    const { resilientKy } = await bundled(value)
    const { answered, storeErrors, said } = await storeThenFail(resilientKy)
    expect({ storeErrors, said, source: answered.headers.get('x-resilient-source') }).toEqual({ storeErrors: [], said: [], source: 'fallback' })
  })
})

describe("a bare import of the built Service Worker entry, bundled by esbuild from the package as installed (its package.json's sideEffects)", { timeout: 30_000 }, () => {
  it("`import 'resilient-fetch/service-worker'` beside resilientKy keeps the entry's preload: the copy is stored and served over the network, nothing is off", async () => {
    const out = join(dir, 'bare')
    await writeFile(join(dir, 'bare.mjs'), "import 'resilient-fetch/service-worker'\nexport { resilientKy } from 'resilient-fetch/ky'\n")
    await esbuild.build({ entryPoints: [join(dir, 'bare.mjs')], absWorkingDir: dir, bundle: true, splitting: true, format: 'esm', platform: 'browser', outdir: out, outExtension: { '.js': '.mjs' }, external: ['ky', 'idb-keyval'], logLevel: 'silent' })
    // Every import() refused, as a Service Worker refuses it.
    for (const file of await readdir(out)) {
      const path = join(out, file)
      await writeFile(path, (await readFile(path, 'utf8')).replaceAll('import(', '((path) => Promise.reject(new TypeError(path)))('))
    }
    const { resilientKy } = (await import(pathToFileURL(join(out, 'bare.mjs')).href)) as { resilientKy: typeof ResilientKy }
    const { answered, storeErrors, said } = await storeThenFail(resilientKy)
    expect({ storeErrors, said, source: answered.headers.get('x-resilient-source') }).toEqual({ storeErrors: [], said: [], source: 'fallback' })
  })
})
