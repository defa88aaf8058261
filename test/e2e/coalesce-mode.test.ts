/**
 * In a browser (headless Chromium), a request's mode decides its answer: `mode: 'same-origin'` refuses another
 * origin's response that the default `'cors'` may read (the upstream here, on another port, allows any origin). So a
 * same-origin GET must never join an identical cors GET in flight, which would hand it the cross-origin answer.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { createServer, type ServerResponse } from 'node:http'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { build } from 'esbuild'
import type { Browser } from 'playwright-core'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { closeServer, launchChromium, listen, openPage, serveDirectory, type StaticServer } from './harness.js'

const PAGE = `
import { createResilientFetch } from ${JSON.stringify(resolve(import.meta.dirname, '../../src/index.ts'))}
window.both = async (target) => {
  const rf = createResilientFetch({ coalesce: true, fallback: false, retry: false })
  const outcome = (call) => call.then((r) => r.text(), (e) => 'rejected: ' + e.name)
  // Made in one turn: the second finds the first in flight.
  const calls = [rf(target), rf(target, { mode: 'same-origin' })].map(outcome)
  return { answers: await Promise.all(calls), coalesced: rf.snapshot().totals.coalesced }
}
document.documentElement.dataset.ready = 'true'
`

let dir: string
let site: StaticServer
let browser: Browser
let origin: string
const held: ServerResponse[] = []

const upstream = createServer((_req, res) => {
  held.push(res)
  // Held a while, so that a call that would join it finds it in flight.
  setTimeout(() => res.writeHead(200, { 'access-control-allow-origin': '*', 'content-type': 'text/plain' }).end('cross-origin answer'), 200)
})

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rf-coalesce-mode-'))
  await build({ stdin: { contents: PAGE, resolveDir: import.meta.dirname, loader: 'js' }, bundle: true, format: 'esm', platform: 'browser', target: 'chrome120', outfile: join(dir, 'page.js'), logLevel: 'error' })
  await writeFile(join(dir, 'index.html'), '<!doctype html><meta charset="utf-8"><title>coalescing and mode</title><script type="module" src="./page.js"></script>')
  site = await serveDirectory(dir)
  origin = `http://127.0.0.1:${await listen(upstream)}`
  browser = await launchChromium()
})

afterAll(async () => {
  await browser?.close()
  await site?.close()
  for (const res of held) res.destroy()
  if (upstream.listening) await closeServer(upstream)
  if (dir) await rm(dir, { recursive: true, force: true })
})

it("a GET with mode 'same-origin' to another origin does not join a cors GET in flight: it is refused, as fetch refuses it", async () => {
  const { page } = await openPage(browser)
  try {
    await page.goto(site.url + '/')
    await page.waitForFunction(() => document.documentElement.dataset.ready === 'true')
    const result = await page.evaluate((target) => (window as unknown as { both(t: string): Promise<unknown> }).both(target), `${origin}/item`)
    expect(result).toEqual({ answers: ['cross-origin answer', 'rejected: TypeError'], coalesced: 0 })
    // The same-origin request never left the browser.
    expect(held).toHaveLength(1)
  } finally {
    await page.context().close()
  }
})
