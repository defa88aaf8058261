/**
 * The fallback stores in headless Chromium where storage is missing or blocked (the stores-page bundle): the first copy
 * of a store that falls back to memory is kept, and a `caches` whose reading throws (Firefox with storage blocked) leaves
 * IndexedDB in use.
 */
import { rm } from 'node:fs/promises'
import { join } from 'node:path'
import type { Browser, Page } from 'playwright-core'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { bundlePage, launchChromium, openPage, serveDirectory, type StaticServer } from './harness.js'

let dir: string
let server: StaticServer
let browser: Browser
const opened: { close(): Promise<void> }[] = []

beforeAll(async () => {
  dir = await bundlePage(join(import.meta.dirname, 'stores-page'), 'rf-stores-blocked-')
  server = await serveDirectory(dir)
  browser = await launchChromium()
})

afterEach(async () => {
  await Promise.all(opened.splice(0).map((context) => context.close()))
})

afterAll(async () => {
  await browser?.close()
  await server?.close()
  if (dir) await rm(dir, { recursive: true, force: true })
})

/** The page in a fresh context, with `block` run before any of its scripts. */
async function pageWhere(block: () => void): Promise<Page> {
  const { context, page } = await openPage(browser)
  opened.push(context)
  await page.addInitScript(block)
  await page.goto(server.url + '/')
  await page.waitForFunction(() => document.documentElement.dataset.ready === 'true')
  return page
}

/** In the page: remembers a 200 on the store `kind` names, recalls it; what was served, and the storeerrors. */
function keepAndRecall(page: Page, kind: 'idb' | 'cache' | 'auto') {
  return page.evaluate(async (kind) => {
    const store = kind === 'idb' ? window.rf.idbStore() : kind === 'cache' ? window.rf.cacheStore() : 'auto'
    const errors: string[] = []
    const fallback = window.rf.createFallback({ store, maxAge: 60_000, maxBodyBytes: 1_000, private: false }, (_type, { error }) => errors.push(String(error)))
    const request = { url: `${location.origin}/api/${kind}`, headers: new Headers() }
    const work: Promise<unknown>[] = []
    fallback.remember(request, new Response('first'), (p) => work.push(p))
    await Promise.all(work)
    return { served: await (await fallback.recall(request))?.response.text(), errors, onDisk: await window.rf.idbKeys('resilient-fetch').catch(() => []) }
  }, kind)
}

describe('a store that falls back to memory keeps the first copy, and says why once', () => {
  it('idbStore where IndexedDB is missing', async () => {
    const page = await pageWhere(() => Object.defineProperty(globalThis, 'indexedDB', { value: undefined, configurable: true }))
    const { served, errors } = await keepAndRecall(page, 'idb')
    expect({ served, errors }).toEqual({ served: 'first', errors: [expect.stringMatching(/IndexedDB "resilient-fetch" is unavailable, keeping fallback copies in memory/)] })
  })

  it('cacheStore where caches.open rejects (Firefox private mode)', async () => {
    const page = await pageWhere(() => (caches.open = () => Promise.reject(new DOMException('private mode', 'SecurityError'))))
    const { served, errors } = await keepAndRecall(page, 'cache')
    expect({ served, errors }).toEqual({ served: 'first', errors: [expect.stringMatching(/Cache API "resilient-fetch" is unavailable, keeping fallback copies in memory/)] })
  })
})

describe('where reading `caches` throws (Firefox with storage blocked)', () => {
  const blockCaches = () =>
    Object.defineProperty(globalThis, 'caches', {
      configurable: true,
      get() {
        throw new DOMException('The operation is insecure.', 'SecurityError')
      },
    })

  it.each(['idb', 'auto'] as const)('store: %s keeps its copies in IndexedDB and serves them', async (kind) => {
    const page = await pageWhere(blockCaches)
    expect(await keepAndRecall(page, kind)).toEqual({ served: 'first', errors: [], onDisk: [`GET ${server.url}/api/${kind}`] })
  })

  it('a resilient fetch with the default store answers a failure with its copy', async () => {
    const page = await pageWhere(blockCaches)
    const source = await page.evaluate(async () => {
      let up = true
      const fetch = async () => (up ? new Response('first') : new Response('down', { status: 503 }))
      const rf = window.rf.createResilientFetch({ fetch, retry: false, breaker: false })
      await (await rf('/api/rf')).text()
      up = false
      return (await rf('/api/rf')).headers.get('x-resilient-source')
    })
    expect(source).toBe('fallback')
  })
})
