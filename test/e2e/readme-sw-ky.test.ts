/**
 * README "In a Service Worker": "`resilientKy()` there works once the worker also imports a value from
 * `resilient-fetch/service-worker` (the chunks it loads are then the entry's)". Headless Chromium, a module Service
 * Worker built code-split (chunks, as the published build is) whose fetch handler answers the page's `/api/*` through
 * `resilientKy` with the fallback on the default 'auto' store and hedging on. With a value of the Service Worker entry
 * imported: a copy is stored and served, a hedge answers a hung request, nothing is off. With `resilient-fetch/ky`
 * alone: import() is refused, so nothing is stored (each storeerror names the fix) and hedging is off (the console
 * says so), while calls still work.
 */
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { bundleWorker, expectKyWorkerWhole, FIX, kyUpstream, kyWorker, swSuite, type KyWorkerState } from './sw-harness.js'

const SRC = join(import.meta.dirname, '../../src')
const NODE_MODULES = join(import.meta.dirname, '../../node_modules')

const upstream = kyUpstream()
const suite = swSuite(upstream, {
  prefix: 'rf-readme-sw-ky-',
  async bundle(dir) {
    const entry = join(SRC, 'service-worker.ts')
    const ky = `import { resilientKy } from ${JSON.stringify(join(SRC, 'integrations/ky.ts'))}`
    // The worker: ky over the resilient fetch, with the line importing the Service Worker entry, or none.
    for (const [name, line] of [
      ['with-entry', `import { createResilientFetch } from ${JSON.stringify(entry)}\nif (typeof createResilientFetch !== 'function') throw new TypeError('no entry')\n`],
      ['ky-alone', ''],
    ]) {
      const source = join(dir, `${name}.src.js`)
      await writeFile(source, kyWorker(line + ky))
      await bundleWorker(source, dir, name, 'split', { chunkNames: `${name}-chunk-[hash]`, options: { nodePaths: [NODE_MODULES] } })
    }
  },
})
const { controlledPage, get, ask } = suite

describe('README: resilientKy in a Service Worker', () => {
  it('with a value of resilient-fetch/service-worker imported: the copy is stored and served, a hedge answers, nothing is off', async () => {
    const { page } = await controlledPage('with-entry.js', 'module')
    await expectKyWorkerWhole(suite, upstream, page)
  })

  it('with resilient-fetch/ky alone: nothing is stored (each storeerror names the fix) and hedging is off, while calls work', async () => {
    const { page } = await controlledPage('ky-alone.js', 'module')
    expect(await get(page, '/api/items')).toMatchObject({ status: 200, body: JSON.stringify({ path: '/api/items', hit: 1 }) })
    upstream.failing = true
    expect(await get(page, '/api/items')).toMatchObject({ status: 503, source: '' })
    const state = await ask<KyWorkerState>(page, 'state')
    expect(state.storeErrors.length).toBeGreaterThan(0)
    for (const error of state.storeErrors) expect(error).toBe(FIX)
    expect(state.said.some((line) => line.startsWith('resilient-fetch: hedge is off:'))).toBe(true)
    expect(state.hedges).toBe(0)
  })
})
