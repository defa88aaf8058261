/**
 * README "Quick start" and "The Worker proxy": `npm start` serves the dashboard (four simulated breakers, and the
 * Worker tab following the proxy's own /events), the proxied API in front of the mock upstream, whose /control makes
 * it fail (then the last good copy answers, tagged); and Ctrl-C (SIGINT to the foreground process group, as a
 * terminal sends it) stops the proxy and its workerd as well. Ports are free ones (PORT, UPSTREAM_PORT).
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import type { Browser } from 'playwright-core'
import { afterAll, afterEach, beforeAll, expect, test } from 'vitest'
import { freePort, launchChromium, openPage } from './harness'

const root = fileURLToPath(new URL('../..', import.meta.url))
let browser: Browser
let started: ChildProcess | undefined
let proxyPort = 0

/** The process groups whose command line names the proxy's port (wrangler, and workerd's socket). */
function holding(port: number): number[] {
  const out = execFileSync('ps', ['-eo', 'pid=,pgid=,args='], { encoding: 'utf8' })
  return out
    .split('\n')
    .map((line) => /^\s*(\d+)\s+(\d+)\s+(.*)$/.exec(line))
    .filter((m): m is RegExpExecArray => m !== null && (m[3]!.includes(`--port ${port} `) || m[3]!.includes(`127.0.0.1:${port} `)))
    .map((m) => Number(m[2]))
}

const text = (url: string) => fetch(url, { signal: AbortSignal.timeout(5_000) }).then(async (r) => ({ status: r.status, source: r.headers.get('x-resilient-source'), body: await r.text() }))

beforeAll(async () => {
  browser = await launchChromium()
})
afterAll(async () => {
  await browser?.close()
})
afterEach(() => {
  // Whatever a failed test left: start.mjs's group and every group still holding the port.
  for (const pgid of new Set([started?.pid, ...holding(proxyPort)])) {
    if (pgid === undefined) continue
    try {
      process.kill(-pgid, 'SIGKILL')
    } catch {
      // Gone.
    }
  }
})

test('npm start: the dashboard shows the breakers, the proxy answers from the mock and then from its copy; Ctrl-C stops it all', async () => {
  proxyPort = await freePort()
  const upstreamPort = await freePort()
  // Its own process group, as a terminal's foreground job is.
  started = spawn(process.execPath, ['scripts/start.mjs'], {
    cwd: root,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, PORT: String(proxyPort), UPSTREAM_PORT: String(upstreamPort), NO_COLOR: '1' },
  })
  let output = ''
  started.stdout!.on('data', (chunk) => (output += String(chunk)))
  started.stderr!.on('data', (chunk) => (output += String(chunk)))
  await expect.poll(() => output.includes('Ctrl-C stops everything'), { timeout: 60_000, interval: 200 }).toBe(true)
  const proxy = `http://127.0.0.1:${proxyPort}`
  const mock = `http://127.0.0.1:${upstreamPort}`
  expect(output).toContain(`dashboard      ${proxy}/`)

  // The proxied API: /api/data is the mock's /data; made to fail, the last good copy answers.
  const live = await text(`${proxy}/api/data`)
  expect(live).toMatchObject({ status: 200, source: null })
  expect(JSON.parse(live.body)).toMatchObject({ id: expect.any(Number) })
  expect((await text(`${mock}/control?error_rate=100&latency_ms=0`)).status).toBe(200)
  await expect.poll(async () => (await text(`${proxy}/api/data`)).source, { timeout: 10_000 }).toBe('fallback')
  expect((await text(`${proxy}/health`)).body).toContain(`"${mock}"`)

  // The dashboard: four simulated breakers; the Worker tab follows this proxy and shows the mock's breaker.
  const { context, page, errors } = await openPage(browser)
  try {
    await page.goto(`${proxy}/`)
    await expect.poll(() => page.locator('#simulation [data-breaker-key]').count(), { timeout: 10_000 }).toBe(4)
    expect(await page.locator('#simulation [data-breaker-key]').evaluateAll((cards) => cards.map((card) => card.getAttribute('data-breaker-key')))).toEqual(['users', 'orders', 'search', 'payments'])
    await page.goto(`${proxy}/#worker`)
    const card = page.locator(`#worker [data-breaker-key="${mock}"]`)
    await text(`${proxy}/api/data`)
    await expect.poll(() => card.getAttribute('data-state'), { timeout: 10_000 }).toMatch(/^(closed|open|half-open)$/)
    expect(errors.filter((error) => !/status of 50\d/.test(error))).toEqual([])
  } finally {
    await context.close()
  }

  // Ctrl-C: the terminal sends SIGINT to the foreground group; wrangler, in a group of its own, goes too.
  const exited = new Promise<number | null>((done) => started!.once('exit', (code) => done(code)))
  process.kill(-started.pid!, 'SIGINT')
  expect(await exited).toBe(0)
  await expect.poll(() => holding(proxyPort), { timeout: 10_000, interval: 200 }).toEqual([])
  await expect(fetch(`${proxy}/health`, { signal: AbortSignal.timeout(1_000) })).rejects.toThrow()
  await expect(fetch(`${mock}/data`, { signal: AbortSignal.timeout(1_000) })).rejects.toThrow()
}, 120_000)
