/**
 * Coalescing in a browser (headless Chromium). A request's mode decides its answer: `mode: 'same-origin'` refuses another
 * origin's response that the default `'cors'` may read (the upstream here, on another port, allows any origin). So a
 * same-origin GET must never join an identical cors GET in flight, which would hand it the cross-origin answer. And
 * each caller's copy of a shared body is a byte stream, as Chromium's fetch bodies are: a BYOB reader works on it.
 *
 * README "Coalescing identical requests": "Never coalesced: ... mode: 'no-cors'". Two identical no-cors GETs made in
 * one turn (the second finds the first in flight) each send their own request and each gets the opaque response fetch
 * gives (status 0, no headers, no body), which no copy could be made of.
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
import { createResilientFetch, resilienceInfo } from ${JSON.stringify(resolve(import.meta.dirname, '../../src/index.ts'))}
window.both = async (target) => {
  const rf = createResilientFetch({ coalesce: true, fallback: false, retry: false })
  const outcome = (call) => call.then((r) => r.text(), (e) => 'rejected: ' + e.name)
  // Made in one turn: the second finds the first in flight.
  const calls = [rf(target), rf(target, { mode: 'same-origin' })].map(outcome)
  return { answers: await Promise.all(calls), coalesced: rf.snapshot().totals.coalesced }
}
window.byob = async (target) => {
  const rf = createResilientFetch({ coalesce: true, fallback: false, retry: false })
  const read = async (response) => {
    const reader = response.body.getReader({ mode: 'byob' })
    let text = ''
    for (;;) {
      const { done, value } = await reader.read(new Uint8Array(3))
      if (done) return text
      text += new TextDecoder().decode(value)
    }
  }
  const responses = await Promise.all([rf(target), rf(target)])
  const plain = (await fetch(target)).body.getReader({ mode: 'byob' }) && 'fetch body: byob'
  return { texts: await Promise.all(responses.map(read)), coalesced: rf.snapshot().totals.coalesced, plain }
}
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
const held: ServerResponse[] = []
/** The paths of the no-cors requests (/opaque). */
const paths: string[] = []

const upstream = createServer((req, res) => {
  if (req.url === '/opaque') {
    // No CORS headers: a no-cors GET reads it as opaque. Answered at once: the calls are in flight from their first turn.
    paths.push(req.url)
    return void res.writeHead(200, { 'content-type': 'text/plain' }).end('not for the page')
  }
  held.push(res)
  // Held a while, so that a call that would join it finds it in flight.
  setTimeout(() => res.writeHead(200, { 'access-control-allow-origin': '*', 'content-type': 'text/plain' }).end('cross-origin answer'), 200)
})

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rf-coalesce-browser-'))
  await build({ stdin: { contents: PAGE, resolveDir: import.meta.dirname, loader: 'js' }, bundle: true, format: 'esm', platform: 'browser', target: 'chrome120', outfile: join(dir, 'page.js'), logLevel: 'error' })
  await writeFile(join(dir, 'index.html'), '<!doctype html><meta charset="utf-8"><title>coalescing in a browser</title><script type="module" src="./page.js"></script>')
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
  // No Playwright default (30 s) on the load and the ready wait: they must happen; the test's timeout bounds them.
  page.setDefaultTimeout(0)
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

it("each caller's copy of a shared body reads with a BYOB reader, as Chromium's fetch body does", async () => {
  const { page } = await openPage(browser)
  // No Playwright default (30 s) on the load and the ready wait: they must happen; the test's timeout bounds them.
  page.setDefaultTimeout(0)
  try {
    await page.goto(site.url + '/')
    await page.waitForFunction(() => document.documentElement.dataset.ready === 'true')
    const result = await page.evaluate((target) => (window as unknown as { byob(t: string): Promise<unknown> }).byob(target), `${origin}/bytes`)
    expect(result).toEqual({ texts: ['cross-origin answer', 'cross-origin answer'], coalesced: 1, plain: 'fetch body: byob' })
  } finally {
    await page.context().close()
  }
})

it("two identical no-cors GETs in flight at once each send their own request and get fetch's opaque response", async () => {
  const { page } = await openPage(browser)
  // No Playwright default (30 s) on the load and the ready wait: they must happen; the test's timeout bounds them.
  page.setDefaultTimeout(0)
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
