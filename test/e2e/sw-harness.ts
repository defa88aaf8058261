/** What the Service Worker e2e files (service-worker.test.ts, sw-navigation.test.ts) share: they drive test/e2e/sw-page. */
import type { Server } from 'node:http'
import { join } from 'node:path'
import type { Plugin } from 'esbuild'
import type { Browser, Page } from 'playwright-core'
import { closeServer, openPage } from './harness.js'

const SRC = join(import.meta.dirname, '../../src')

/** sw.ts on the main entry: its import of the Service Worker entry resolved to src/index.ts (a user importing 'resilient-fetch'). */
export const mainEntry: Plugin = {
  name: 'main-entry',
  setup: (build) => void build.onResolve({ filter: /\/src\/service-worker\.js$/ }, () => ({ path: join(SRC, 'index.ts') })),
}

/** Takes `server` down (connection refused: nothing listens on its port) or brings it back on `port`; nothing when it already is. */
export async function setListening(server: Server, port: number, up: boolean): Promise<void> {
  if (!up && server.listening) await closeServer(server)
  if (up && !server.listening) {
    await new Promise<void>((done, reject) => {
      server.once('error', reject)
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject)
        done()
      })
    })
  }
}

/**
 * A fresh context (its own storage and registrations, kept in `opened` for the test's end) whose pages of `siteUrl`
 * the Service Worker `script` controls.
 */
export async function controlledPage(browser: Browser, opened: { close(): Promise<void> }[], siteUrl: string, script: string, type: 'classic' | 'module'): Promise<{ page: Page; errors: string[] }> {
  const { context, page, errors } = await openPage(browser)
  opened.push(context)
  await page.goto(siteUrl + '/')
  await page.waitForFunction(() => document.documentElement.dataset.ready === 'true')
  await page.evaluate(([script, type]) => window.app.register(script, type), [script, type] as const)
  return { page, errors }
}
