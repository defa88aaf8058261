#!/usr/bin/env node
// npm run screenshots — rewrites docs/dashboard-*.png, the pictures in the README: the dashboard
// served by the proxy Worker (wrangler dev, offline) in front of the mock upstream, as `npm start`
// runs it, photographed in headless Chromium. Tests never write these files; this script does.
import { spawn } from 'node:child_process'
import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { startMockUpstream } from '../demo/mock-upstream.mjs'
import { buildDemo } from './build-demo.mjs'
import { launchChromium } from './chromium.mjs'

const root = fileURLToPath(new URL('..', import.meta.url))
const docs = join(root, 'docs')
const VIEWPORT = { width: 1280, height: 900 }

async function freePort() {
  const server = createServer()
  await new Promise((done, fail) => server.once('error', fail).listen(0, '127.0.0.1', done))
  const { port } = server.address()
  await new Promise((done) => server.close(done))
  return port
}

/** wrangler dev in its own process group (so stopping it stops workerd too), fronting `upstreamUrl`. */
async function startProxy(upstreamUrl) {
  const port = await freePort()
  const persist = await mkdtemp(join(tmpdir(), 'rf-screenshots-'))
  const args = [join(root, 'node_modules/wrangler/bin/wrangler.js'), 'dev', '--ip', '127.0.0.1', '--port', String(port), '--inspector-port', String(await freePort()), '--persist-to', persist]
  args.push('--var', `UPSTREAM_URL:${upstreamUrl}`, '--var', 'ROUTES:', '--var', 'METRICS_TOKEN:', '--var', 'FAILURE_THRESHOLD:3', '--var', 'OPEN_DURATION_MS:10000')
  args.push('--show-interactive-dev-session=false', '--live-reload=false')
  const child = spawn(process.execPath, args, {
    cwd: root,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, CLOUDFLARE_CF_FETCH_ENABLED: 'false', WRANGLER_SEND_METRICS: 'false', WRANGLER_HIDE_BANNER: 'true', NO_COLOR: '1' },
  })
  const output = []
  child.stdout.on('data', (chunk) => output.push(String(chunk)))
  child.stderr.on('data', (chunk) => output.push(String(chunk)))
  const url = `http://127.0.0.1:${port}`
  const stop = async () => {
    if (child.exitCode === null) process.kill(-child.pid, 'SIGTERM')
    await rm(persist, { recursive: true, force: true })
  }
  for (const deadline = Date.now() + 60_000; Date.now() < deadline; await sleep(250)) {
    const answered = await fetch(`${url}/metrics.json`).then((r) => r.arrayBuffer(), () => undefined)
    if (answered) return { url, stop }
  }
  await stop()
  throw new Error(`wrangler dev did not start:\n${output.join('')}`)
}

const sleep = (ms) => new Promise((done) => setTimeout(done, ms))

async function shoot(page, name) {
  const path = join(docs, `dashboard-${name}.png`)
  await page.screenshot({ path, fullPage: true, animations: 'disabled' })
  console.log(`wrote ${path}`)
}

/** The page as it opens: one endpoint degrading, long enough for its sparkline to tell the story. */
async function degraded(browser, site) {
  const page = await browser.newPage({ viewport: VIEWPORT })
  await page.goto(`${site}/`)
  await sleep(45_000)
  // Shot just after it opened, with the countdown to its next probe showing.
  await page.waitForFunction(() => /next probe in 3\.[5-9]/.test(document.querySelector('#simulation [data-breaker-key="payments"] [data-role="next-probe"]')?.textContent ?? ''), undefined, { timeout: 60_000, polling: 100 })
  await shoot(page, 'degraded')
}

async function slowTail(browser, site) {
  const page = await browser.newPage({ viewport: VIEWPORT })
  await page.goto(`${site}/?scene=slow-tail`)
  await sleep(15_000)
  // Hedging on for the second half, where the page offers it, so the picture has hedges in it.
  const hedging = page.locator('[data-control="hedge"]')
  if (await hedging.count()) await hedging.check()
  await sleep(25_000)
  await shoot(page, 'slow-tail')
}

/** A full outage, then the way back: every breaker open, then every one closed again. */
async function outageAndRecovery(browser, site) {
  const page = await browser.newPage({ viewport: VIEWPORT })
  await page.goto(`${site}/?scene=healthy`)
  await sleep(15_000)
  await page.locator('label.scene', { hasText: 'Full outage' }).click()
  await sleep(15_000)
  await shoot(page, 'failing')
  await page.locator('label.scene', { hasText: 'All healthy' }).click()
  await page.waitForFunction(() => [...document.querySelectorAll('#simulation [data-breaker-key]')].every((card) => card.dataset.state === 'closed'), undefined, { timeout: 60_000, polling: 200 })
  await sleep(8_000)
  await shoot(page, 'recovered')
}

/** The Worker view following the proxy while its upstream fails: open, a failed probe, open again. */
async function worker(browser, site, upstream) {
  // One card: a shorter page, so the picture is not mostly empty.
  const page = await browser.newPage({ viewport: { ...VIEWPORT, height: 620 } })
  await page.goto(`${site}/#worker`)
  let calling = true
  const traffic = (async () => {
    while (calling) await Promise.all([fetch(`${site}/api/data`).then((r) => r.arrayBuffer(), () => undefined), sleep(400)])
  })()
  await sleep(20_000)
  await fetch(`${upstream}/control?error_rate=100`).then((r) => r.arrayBuffer())
  // OPEN_DURATION_MS is 10 s: the first probe fails and the breaker opens again.
  await page.locator('#worker [data-role="log"] li[data-to="half-open"]').waitFor({ timeout: 30_000 })
  await page.waitForFunction(() => /next probe in [5-9]/.test(document.querySelector('#worker [data-role="next-probe"]')?.textContent ?? ''), undefined, { timeout: 15_000, polling: 100 })
  await shoot(page, 'worker')
  calling = false
  await traffic
}

await buildDemo()
await mkdir(docs, { recursive: true })
const upstream = await startMockUpstream({ port: 0, latencyMs: 40 })
const proxy = await startProxy(upstream.url)
const browser = await launchChromium()
try {
  await Promise.all([degraded(browser, proxy.url), slowTail(browser, proxy.url), outageAndRecovery(browser, proxy.url), worker(browser, proxy.url, upstream.url)])
} finally {
  await browser.close()
  await proxy.stop()
  await upstream.close()
}
