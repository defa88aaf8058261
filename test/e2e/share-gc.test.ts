/**
 * In real Chromium, after real garbage collections: instances made on one shareAcrossTabs() and dropped (one per
 * component, say) are collected with their breakers; the share, which lives on, does not keep them.
 */
import { rm } from 'node:fs/promises'
import { join } from 'node:path'
import { chromium, type Browser } from 'playwright-core'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { CHROMIUM_ARGS } from '../../scripts/chromium.mjs'
import { bundlePage, findChromium, openPage, serveDirectory, type StaticServer } from './harness.js'

const PAGE_DIR = join(import.meta.dirname, 'share-gc-page')

let dir: string
let server: StaticServer
let browser: Browser

beforeAll(async () => {
  dir = await bundlePage(PAGE_DIR, 'rf-share-gc-')
  server = await serveDirectory(dir)
  const { path } = await findChromium()
  browser = await chromium.launch({ executablePath: path, args: [...CHROMIUM_ARGS, '--js-flags=--expose-gc'] })
})

afterAll(async () => {
  await browser?.close()
  await server?.close()
  if (dir) await rm(dir, { recursive: true, force: true })
})

it('instances made on one share and dropped are collected, their breakers with them', async () => {
  const { context, page, errors } = await openPage(browser)
  try {
    await page.goto(`${server.url}/`)
    await page.waitForFunction(() => document.documentElement.dataset.ready === 'true')
    expect(await page.evaluate(() => window.shareGc.hasGc())).toBe(true)
    await page.evaluate(() => window.shareGc.make(20))
    expect(await page.evaluate(() => window.shareGc.collect())).toBeGreaterThanOrEqual(19)
    expect(errors).toEqual([])
  } finally {
    await context.close()
  }
})
