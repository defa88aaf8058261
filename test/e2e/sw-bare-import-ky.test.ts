/**
 * README "In a Service Worker": "`resilientKy()` there works once the worker also imports
 * `resilient-fetch/service-worker`, even bare (`import 'resilient-fetch/service-worker'`: package.json marks that entry,
 * alone, as having side effects, so bundlers keep it), and the chunks it loads are then the entry's." The package as a
 * user installs it (a node_modules/resilient-fetch directory holding the repo's package.json and a dist built as
 * tsup.config.ts builds it, code-split ESM; ky and idb-keyval beside it), a worker of two import lines bundled from it by
 * esbuild code-split (the chunks the main entry loads with import() stay behind import()), run as a module Service
 * Worker in headless Chromium against an upstream on another origin (127.0.0.1): a copy is stored and served, a hedge
 * answers a hung request, no storeerror, nothing said off.
 */
import { readdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { installedPackage } from '../installed-package.js'
import { bundleWorker, expectKyWorkerWhole, kyUpstream, kyWorker, swSuite } from './sw-harness.js'

/** The user's worker: the bare import beside resilientKy, the fallback on the default 'auto' store, hedging on. */
const WORKER = kyWorker("import 'resilient-fetch/service-worker'\nimport { resilientKy } from 'resilient-fetch/ky'")

/** Where the package is installed (removed at the end). */
let project: string | undefined
const upstream = kyUpstream()
const suite = swSuite(upstream, {
  prefix: 'rf-sw-bare-site-',
  async bundle(dir) {
    // Laid out as installed: node_modules/resilient-fetch with the package's package.json (its exports and sideEffects) and dist.
    project = (await installedPackage('rf-sw-bare-')).project
    await writeFile(join(project, 'sw.js'), WORKER)
    await bundleWorker(join(project, 'sw.js'), dir, 'sw-bare', 'split', { options: { absWorkingDir: project } })
  },
  remove: () => project,
})

describe("a bare import 'resilient-fetch/service-worker' beside resilientKy, bundled by esbuild from the installed package", () => {
  it('the bundle still loads chunks with import() (which the Service Worker refuses)', async () => {
    const scripts = (await readdir(suite.dir)).filter((file) => file.startsWith('sw-bare') || file.startsWith('chunk-'))
    const sources = await Promise.all(scripts.map((file) => readFile(join(suite.dir, file), 'utf8')))
    expect(scripts.length).toBeGreaterThan(1)
    expect(sources.some((source) => source.includes('import('))).toBe(true)
  })

  it('in a module Service Worker: the copy is stored and served, a hedge answers a hung request; no storeerror, nothing is off', async () => {
    const { page } = await suite.controlledPage('sw-bare.js', 'module')
    await expectKyWorkerWhole(suite, upstream, page)
  })
})
