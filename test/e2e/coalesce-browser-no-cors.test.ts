/**
 * README "Coalescing identical requests": "Never coalesced: ... mode: 'no-cors'". Held in headless Chromium against a
 * real node:http upstream on 127.0.0.1 on another origin than the page: two identical no-cors GETs made in one turn
 * (the second finds the first in flight) each send their own request and each gets the opaque response fetch gives
 * (status 0, no headers, no body), which no copy could be made of.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { createServer } from 'node:http'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { build } from 'esbuild'
import type { Browser } from 'playwright-core'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { closeServer, launchChromium, listen, openPage, serveDirectory, type StaticServer } from './harness.js'

const PAGE = `
import { createResilientFetch, resilienceInfo } from ${JSON.stringify(resolve(import.meta.dirname, '../../src/index.ts'))}
window.twice = async (target) => {
  const rf = createResilientFetch({ coalesce: true, fallback: false, retry: false })
  const outcome = (call) => call.then(
    async (r) => ({ type: r.type, status: r.status, body: await r.text(), coalesced: resilienceInfo(r)?.coalesced ?? false }),
    (e) => ({ rejected: e.name + ': ' + e.message }),
  )
  // Made in one turn: the second finds the first in flight.
  const calls = [rf(target, { mode: 'no-cors' }), rf(target, { mode: 'no-cors' })].map(outcome)
  return { answers: await Promise.all(calls), coalesced: rf.snapshot().totals.coalesced }
}
document.documentElement.dataset.ready = 'true'
`

let dir: string
let site: StaticServer
let browser: Browser
let origin: string
const paths: string[] = []

// No CORS headers: a no-cors GET reads it as opaque. Answered at once: the calls are in flight from their first turn.
const upstream = createServer((req, res) => {
  paths.push(req.url!)
  res.writeHead(200, { 'content-type': 'text/plain' }).end('not for the page')
})

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rf-coalesce-no-cors-'))
  await build({ stdin: { contents: PAGE, resolveDir: import.meta.dirname, loader: 'js' }, bundle: true, format: 'esm', platform: 'browser', target: 'chrome120', outfile: join(dir, 'page.js'), logLevel: 'error' })
  await writeFile(join(dir, 'index.html'), '<!doctype html><meta charset="utf-8"><title>no-cors GETs</title><script type="module" src="./page.js"></script>')
  site = await serveDirectory(dir)
  origin = `http://127.0.0.1:${await listen(upstream)}`
  browser = await launchChromium()
})

afterAll(async () => {
  await browser?.close()
  await site?.close()
  if (upstream.listening) await closeServer(upstream)
  if (dir) await rm(dir, { recursive: true, force: true })
})

it("two identical no-cors GETs in flight at once each send their own request and get fetch's opaque response", async () => {
  const { page } = await openPage(browser)
  try {
    await page.goto(site.url + '/')
    await page.waitForFunction(() => document.documentElement.dataset.ready === 'true')
    const result = await page.evaluate((target) => (window as unknown as { twice: (t: string) => Promise<unknown> }).twice(target), `${origin}/opaque`)
    const opaque = { type: 'opaque', status: 0, body: '', coalesced: false }
    expect(result).toEqual({ answers: [opaque, opaque], coalesced: 0 })
    expect(paths).toEqual(['/opaque', '/opaque'])
  } finally {
    await page.context().close()
  }
})
