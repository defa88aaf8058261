/**
 * In real Chromium, after real garbage collections: a caller that keeps only the body's reader (the Response is
 * gone) still ends the body with its abort, and the connection closes. The fallback is on (the default), so the
 * body the caller reads is the branch that `response.clone()` put in place of the one the transport saw, and
 * Chromium's native tee does not keep that first stream reachable from the branch.
 */
import { readFile, rm } from 'node:fs/promises'
import { createServer, type Server } from 'node:http'
import { join } from 'node:path'
import { chromium, type Browser } from 'playwright-core'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { CHROMIUM_ARGS } from '../../scripts/chromium.mjs'
import { bundlePage, closeServer, findChromium, listen, openPage } from './harness.js'

const PAGE_DIR = join(import.meta.dirname, 'abort-gc-page')
/** The slow body: a chunk this often, for at most STREAM_MS (so a connection nobody closes still ends). */
const CHUNK_EVERY_MS = 100
const STREAM_MS = 20_000

let dir: string
let server: Server
let origin: string
let browser: Browser
/** When each /stream request's connection closed, by its `case` query. */
const closed = new Map<string, Promise<void>>()

beforeAll(async () => {
  dir = await bundlePage(PAGE_DIR, 'rf-abort-gc-')
  server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1')
    if (url.pathname === '/stream') return stream(url.searchParams.get('case') ?? '', req.socket, res)
    const file = url.pathname === '/' ? 'index.html' : url.pathname.slice(1)
    if (file !== 'index.html' && file !== 'page.js') return void res.writeHead(404).end()
    res.writeHead(200, { 'content-type': file.endsWith('.js') ? 'text/javascript' : 'text/html', 'cache-control': 'no-store' })
    res.end(await readFile(join(dir, file)))
  })
  origin = `http://127.0.0.1:${await listen(server)}`
  const { path } = await findChromium()
  browser = await chromium.launch({ executablePath: path, args: [...CHROMIUM_ARGS, '--js-flags=--expose-gc'] })
})

afterAll(async () => {
  await browser?.close()
  if (server) await closeServer(server)
  if (dir) await rm(dir, { recursive: true, force: true })
})

/** A 200 that the fallback may store, sending a chunk every CHUNK_EVERY_MS until the client goes or STREAM_MS pass. */
function stream(name: string, socket: import('node:net').Socket, res: import('node:http').ServerResponse): void {
  closed.set(name, new Promise((resolve) => socket.once('close', () => resolve())))
  res.writeHead(200, { 'content-type': 'application/octet-stream', 'cache-control': 'max-age=60' })
  const chunk = Buffer.alloc(1024, 120)
  res.write(chunk)
  const timer = setInterval(() => res.write(chunk), CHUNK_EVERY_MS)
  const end = setTimeout(() => res.end(), STREAM_MS)
  res.once('close', () => {
    clearInterval(timer)
    clearTimeout(end)
  })
}

/** How `promise` stands after at most `ms`. */
function within(promise: Promise<unknown>, ms: number): Promise<'settled' | 'pending'> {
  return Promise.race([promise.then(() => 'settled' as const), new Promise<'pending'>((resolve) => setTimeout(resolve, ms, 'pending'))])
}

const CASES = [
  ['the default options', {}],
  ['a hedged call', { hedge: { delay: 5_000 } }],
  ['a coalesced call', { coalesce: true }],
] as const

for (const [name, options] of CASES) {
  it(`${name}, fallback on: after GCs, the caller's abort ends a body of which it kept only the reader, and closes the connection`, async () => {
    const { context, page, errors } = await openPage(browser)
    try {
      await page.goto(origin + '/')
      await page.waitForFunction(() => document.documentElement.dataset.ready === 'true')
      expect(await page.evaluate(() => window.abortGc.hasGc())).toBe(true)
      const url = `${origin}/stream?case=${encodeURIComponent(name)}`
      const result = await page.evaluate(([url, options]) => window.abortGc.abortAfterGc(url, options), [url, options] as const)
      // The Response really went. The abort reached the body: with the caller's reason, or (Chromium, through the
      // clone's native tee) the platform's AbortError; without it, the body would still be streaming.
      expect(result.responseWent).toBe(true)
      expect(result.body).toMatch(/^rejected: (Error: left the page|AbortError: )/)
      expect(await within(closed.get(name)!, 2_000)).toBe('settled')
      expect(errors).toEqual([])
    } finally {
      await context.close()
    }
  })
}
