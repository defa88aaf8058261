/**
 * Shared helpers for the end-to-end tests: headless Chromium through playwright-core, and a
 * static file server on 127.0.0.1. Node-only on purpose (tests, not src).
 */
import { createServer, type Server } from 'node:http'
import { createServer as createNetServer } from 'node:net'
import { mkdtemp, readFile, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { extname, join, normalize, resolve, sep } from 'node:path'
import { build } from 'esbuild'
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core'
import { CHROMIUM_ARGS, findChromium } from '../../scripts/chromium.mjs'

// Headless Chromium: CHROMIUM_PATH, else Debian's, else the npm-packaged one. Close it in afterAll.
export { findChromium, launchChromium } from '../../scripts/chromium.mjs'

/** Headless Chromium that keeps pages in the back/forward cache: its headless shell does only with --enable-bfcache, and Playwright turns the cache off unless its own flag is left out. */
export async function launchWithBackForwardCache(): Promise<Browser> {
  const { path } = await findChromium()
  return chromium.launch({ executablePath: path, args: [...CHROMIUM_ARGS, '--enable-bfcache'], ignoreDefaultArgs: ['--disable-back-forward-cache'] })
}

/** A fresh context and page, with every console error and uncaught page error collected. */
export async function openPage(
  browser: Browser,
  options: { viewport?: { width: number; height: number } } = {},
): Promise<{ context: BrowserContext; page: Page; errors: string[] }> {
  const context = await browser.newContext({ viewport: options.viewport ?? { width: 1280, height: 800 } })
  const page = await context.newPage()
  const errors: string[] = []
  page.on('console', (message) => {
    // The location names the failing resource of messages like "Failed to load resource: 404".
    if (message.type() === 'error') errors.push(`console: ${message.text()} (${message.location().url})`)
  })
  page.on('pageerror', (error) => errors.push(`pageerror: ${error.message}`))
  return { context, page, errors }
}

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
}

export interface StaticServer {
  /** Base URL without trailing slash, e.g. http://127.0.0.1:43121 */
  url: string
  port: number
  close(): Promise<void>
}

/** Serves `dir` read-only on 127.0.0.1 at a free port; `/` and directories serve index.html. */
export async function serveDirectory(dir: string): Promise<StaticServer> {
  const root = resolve(dir)
  const server = createServer(async (req, res) => {
    try {
      const pathname = decodeURIComponent(new URL(req.url ?? '/', 'http://127.0.0.1').pathname)
      let file = normalize(join(root, pathname))
      // Refuse anything that escapes the root (../ or encoded variants).
      if (file !== root && !file.startsWith(root + sep)) {
        res.writeHead(403).end('forbidden')
        return
      }
      if ((await stat(file).catch(() => undefined))?.isDirectory()) file = join(file, 'index.html')
      const body = await readFile(file)
      res.writeHead(200, {
        'content-type': CONTENT_TYPES[extname(file)] ?? 'application/octet-stream',
        'cache-control': 'no-store',
      })
      res.end(req.method === 'HEAD' ? undefined : body)
    } catch {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found')
    }
  })
  const port = await listen(server)
  return { url: `http://127.0.0.1:${port}`, port, close: () => closeServer(server) }
}

/** Listens on 127.0.0.1 at a free port and returns it. */
export function listen(server: Server): Promise<number> {
  return new Promise((resolvePort, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      if (address && typeof address === 'object') resolvePort(address.port)
      else reject(new Error('server has no port'))
    })
  })
}

/** Closes a server, dropping keep-alive and streaming (SSE) connections instead of waiting for them. */
export function closeServer(server: Server): Promise<void> {
  return new Promise((done) => {
    server.close(() => done())
    server.closeAllConnections()
  })
}

/** A port that was free a moment ago on 127.0.0.1, for child processes that need one up front (wrangler dev). */
export async function freePort(): Promise<number> {
  const server = createNetServer()
  await new Promise<void>((done, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => done())
  })
  const address = server.address()
  await new Promise<void>((done) => server.close(() => done()))
  if (!address || typeof address !== 'object') throw new Error('no free port')
  return address.port
}

/** Polls `url` until it answers (any status) or `timeoutMs` passes; for child servers starting up. */
export async function waitForHttp(url: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  let lastError: unknown
  while (Date.now() < deadline) {
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(2_000) })
      await response.body?.cancel()
      return
    } catch (error) {
      lastError = error
      await new Promise((r) => setTimeout(r, 250))
    }
  }
  throw new Error(`${url} did not answer within ${timeoutMs} ms`, { cause: lastError })
}

/**
 * A test page in a fresh temporary directory: `pageDir/page.ts` bundled for Chromium as page.js,
 * beside a copy of `pageDir/index.html`. Returns the directory (the caller removes it).
 */
export async function bundlePage(pageDir: string, prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix))
  await build({
    entryPoints: [join(pageDir, 'page.ts')],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'chrome120',
    outfile: join(dir, 'page.js'),
    logLevel: 'error',
  })
  await writeFile(join(dir, 'index.html'), await readFile(join(pageDir, 'index.html')))
  return dir
}
