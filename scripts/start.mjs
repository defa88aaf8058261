#!/usr/bin/env node
// npm start: the dashboard build, the mock downstream on 127.0.0.1:8788 and the proxy Worker
// (wrangler dev, offline) on 127.0.0.1:${PORT:-8787} in front of it, with one command. Ctrl-C stops all.
import { spawn, spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { startMockUpstream } from '../demo/mock-upstream.mjs'

const root = fileURLToPath(new URL('..', import.meta.url))
const UPSTREAM_PORT = 8788
const rawPort = process.env.PORT ?? '8787'
const port = Number(rawPort)
if (!Number.isInteger(port) || port < 1 || port > 65535 || port === UPSTREAM_PORT) {
  console.error(`start: PORT must be an integer in 1..65535 other than ${UPSTREAM_PORT} (the mock upstream's), got ${JSON.stringify(rawPort)}`)
  process.exit(1)
}

if (existsSync(`${root}scripts/build-demo.mjs`)) {
  const built = spawnSync(process.execPath, [`${root}scripts/build-demo.mjs`], { cwd: root, stdio: 'inherit' })
  if (built.status !== 0) {
    console.error('start: npm run build:demo failed')
    process.exit(built.status ?? 1)
  }
}

let upstream
try {
  upstream = await startMockUpstream({ port: UPSTREAM_PORT })
} catch (error) {
  console.error(`start: cannot listen on 127.0.0.1:${UPSTREAM_PORT} for the mock upstream (${error.message}); is npm start already running?`)
  process.exit(1)
}

const proxyUrl = `http://127.0.0.1:${port}`
const wrangler = spawn(
  process.execPath,
  [
    `${root}node_modules/wrangler/bin/wrangler.js`,
    'dev',
    '--ip', '127.0.0.1',
    '--port', String(port),
    // Locally the proxy always fronts the mock, whatever wrangler.toml says for deployment.
    '--var', `UPSTREAM_URL:${upstream.url}`,
    '--var', 'ROUTES:',
    '--show-interactive-dev-session=false',
  ],
  {
    cwd: root,
    // Its own process group, so stopping it also stops the workerd it starts.
    detached: true,
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, CLOUDFLARE_CF_FETCH_ENABLED: 'false', WRANGLER_SEND_METRICS: 'false' },
  },
)

let announced = false
wrangler.stdout.on('data', (chunk) => {
  process.stdout.write(chunk)
  if (!announced && String(chunk).includes('Ready on')) {
    announced = true
    console.log(
      [
        '',
        `  dashboard      ${proxyUrl}/`,
        `  proxied        ${proxyUrl}/api/data`,
        `  metrics        ${proxyUrl}/metrics   ${proxyUrl}/metrics.json   ${proxyUrl}/events`,
        `  mock upstream  ${upstream.url}/data   ${upstream.url}/control?error_rate=80&latency_ms=0`,
        '  Ctrl-C stops everything.',
        '',
      ].join('\n'),
    )
  }
})

let stopping = false
async function stop(signal) {
  if (stopping) return
  stopping = true
  if (wrangler.exitCode === null) {
    const exited = new Promise((done) => wrangler.once('exit', done))
    try {
      process.kill(-wrangler.pid, signal)
    } catch {
      // Already gone.
    }
    const timer = setTimeout(() => {
      try {
        process.kill(-wrangler.pid, 'SIGKILL')
      } catch {
        // Already gone.
      }
    }, 5_000)
    await exited
    clearTimeout(timer)
  }
  await upstream.close()
  process.exit(0)
}

process.on('SIGINT', () => stop('SIGINT'))
process.on('SIGTERM', () => stop('SIGTERM'))
wrangler.on('exit', (code) => {
  if (stopping) return
  console.error(`start: wrangler dev exited with ${code}`)
  upstream.close().then(() => process.exit(code ?? 1))
})
