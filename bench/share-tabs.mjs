// How long an open (or close) decision takes to reach another tab with shareAcrossTabs, in headless Chromium:
// two pages of one origin, A's breaker trips on a stub upstream, B's statechange event marks the arrival.
// Run alone: node bench/share-tabs.mjs [rounds]   (from bench/run.mjs: await shareTabsBench())
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { createServer } from 'node:http'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { build } from 'esbuild'
import { launchChromium } from '../scripts/chromium.mjs'
import { median, note, percentile, table } from './harness.mjs'

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const PAGE_DIR = join(ROOT, 'test/e2e/share-page')

export const SHARE_TABS_TITLE = 'g. shareAcrossTabs: a state change reaching another tab (headless Chromium, two pages of one origin)'
export const SHARE_TABS_HEADERS = ['decision → other tab', 'rounds', 'median', 'p90', 'min', 'max']

const fmtMs = (ms) => `${ms.toFixed(2)} ms`

/**
 * Measures, over `rounds` trips and closes per path, the delay between tab A's statechange and tab B's,
 * both stamped with performance.timeOrigin + performance.now() (one clock for the browser's processes).
 * Returns the table rows; prints them unless `print` is false.
 */
export async function shareTabsBench({ rounds = 50, print = true } = {}) {
  const dir = await mkdtemp(join(tmpdir(), 'rf-share-bench-'))
  let server
  let browser
  try {
    await build({
      entryPoints: [join(PAGE_DIR, 'page.ts')],
      bundle: true,
      format: 'esm',
      platform: 'browser',
      target: 'chrome120',
      minify: true,
      outfile: join(dir, 'page.js'),
      logLevel: 'error',
    })
    const files = { '/': ['text/html', await readFile(join(PAGE_DIR, 'index.html'))], '/page.js': ['text/javascript', await readFile(join(dir, 'page.js'))] }
    server = createServer((req, res) => {
      const file = files[new URL(req.url ?? '/', 'http://127.0.0.1').pathname]
      if (!file) return void res.writeHead(404).end()
      res.writeHead(200, { 'content-type': file[0], 'cache-control': 'no-store' }).end(file[1])
    })
    await new Promise((done) => server.listen(0, '127.0.0.1', done))
    const origin = `http://127.0.0.1:${server.address().port}`
    browser = await launchChromium()

    const rows = []
    for (const [label, query] of [
      ['BroadcastChannel', ''],
      ['storage event (no BroadcastChannel)', '&broadcast=off'],
    ]) {
      const context = await browser.newContext()
      try {
        const [a, b] = [await context.newPage(), await context.newPage()]
        for (const page of [a, b]) {
          // A long open duration: only the bench's own close() ends a round.
          await page.goto(`${origin}/?threshold=1&open=600000&name=bench${query}`)
          await page.waitForFunction(() => document.documentElement.dataset.ready === 'true')
        }
        const delays = { open: [], close: [] }
        for (let i = 0; i < rounds + 3; i++) {
          for (const to of ['open', 'closed']) {
            const seen = await b.evaluate(() => window.tab.changes.length)
            const sent = await a.evaluate(async (to) => {
              if (to === 'open') await window.tab.call()
              else window.tab.close()
              return window.tab.changes.at(-1)
            }, to)
            if (sent?.to !== to) throw new Error(`tab A did not change to ${to}`)
            const heard = await b.waitForFunction(
              ([seen, to]) => {
                const change = window.tab.changes.slice(seen).find((c) => c.to === to)
                return change?.at
              },
              [seen, to],
              { polling: 5, timeout: 5_000 },
            )
            // The first rounds warm up the pages' JIT and the channel.
            if (i >= 3) delays[to === 'open' ? 'open' : 'close'].push((await heard.jsonValue()) - sent.at)
          }
        }
        for (const kind of ['open', 'close']) {
          const sorted = [...delays[kind]].sort((x, y) => x - y)
          rows.push([`${kind}, ${label}`, sorted.length, fmtMs(median(sorted)), fmtMs(percentile(sorted, 0.9)), fmtMs(sorted[0]), fmtMs(sorted.at(-1))])
        }
      } finally {
        await context.close()
      }
    }
    if (print) {
      table(SHARE_TABS_TITLE, SHARE_TABS_HEADERS, rows)
      note('Both stamps are taken in the tabs\' statechange listeners: the bench polling B adds nothing to a figure.')
    }
    return rows
  } finally {
    await browser?.close()
    if (server) await new Promise((done) => server.close(done))
    await rm(dir, { recursive: true, force: true })
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const rounds = Number(process.argv[2] ?? 50)
  if (!(Number.isInteger(rounds) && rounds > 0)) throw new RangeError(`rounds must be a positive integer, got ${process.argv[2]}`)
  console.log(`resilient-fetch share-tabs bench · node ${process.version} · ${new Date().toISOString()}`)
  await shareTabsBench({ rounds })
}
