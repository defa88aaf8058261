#!/usr/bin/env node
// npm start: the dashboard build, the mock downstream on 127.0.0.1:${UPSTREAM_PORT:-PORT+1} and the
// proxy Worker (wrangler dev, offline, a local KV namespace for its copies) on 127.0.0.1:${PORT:-8787}
// in front of it, with one command. Ctrl-C stops all.
import { spawn, spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { createServer } from 'node:net'
import { fileURLToPath } from 'node:url'
import { startMockUpstream } from '../demo/mock-upstream.mjs'

const root = fileURLToPath(new URL('..', import.meta.url))
const port = portFrom('PORT', '8787')
const upstreamPort = portFrom('UPSTREAM_PORT', String(port + 1))
if (upstreamPort === port) {
  console.error(`start: UPSTREAM_PORT must differ from PORT (both ${port})`)
  process.exit(1)
}
// wrangler dev on a busy port prints a crash trace; say what is wrong and how to move instead.
for (const [name, busy] of [['PORT', port], ['UPSTREAM_PORT', upstreamPort]]) {
  if (await inUse(busy)) {
    // An UPSTREAM_PORT you set that is busy is moved itself: moving PORT would leave the mock where it cannot listen.
    const own = name === 'UPSTREAM_PORT' && process.env.UPSTREAM_PORT !== undefined
    const free = own ? await freePort(upstreamPort + 10, port) : await freePair(port + 10, process.env.UPSTREAM_PORT === undefined ? undefined : upstreamPort)
    console.error(
      `start: 127.0.0.1:${busy} is in use (is npm start or wrangler dev already running?). ` +
        (free === undefined
          ? 'Pick free ports with PORT (the proxy; the mock upstream follows on PORT+1) or UPSTREAM_PORT. '
          : own
            ? `Pick a free port for the mock upstream: UPSTREAM_PORT=${free} npm start. `
            : `Pick free ports: PORT=${free} npm start (the proxy; the mock upstream follows on PORT+1, or set UPSTREAM_PORT). `) +
        `It was ${name}.`,
    )
    process.exit(1)
  }
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
  upstream = await startMockUpstream({ port: upstreamPort })
} catch (error) {
  console.error(`start: cannot listen on 127.0.0.1:${upstreamPort} for the mock upstream (${error.message}); set UPSTREAM_PORT to a free port`)
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
    // Nothing leaves 127.0.0.1: no request.cf lookup, no usage metrics, and no banner (it asks the npm registry for a newer wrangler).
    env: { ...process.env, CLOUDFLARE_CF_FETCH_ENABLED: 'false', WRANGLER_SEND_METRICS: 'false', WRANGLER_HIDE_BANNER: 'true' },
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
        `  metrics        ${proxyUrl}/metrics   ${proxyUrl}/metrics.json   ${proxyUrl}/events   ${proxyUrl}/health`,
        '  copies         a local KV namespace (LAST_KNOWN_GOOD), kept in .wrangler/state across restarts',
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

/** A port from the environment, checked; the default otherwise. */
function portFrom(name, fallback) {
  const raw = process.env[name] ?? fallback
  const value = Number(raw)
  if (!/^\d+$/.test(raw) || !Number.isInteger(value) || value < 1 || value > 65535) {
    console.error(`start: ${name} must be an integer in 1..65535, got ${JSON.stringify(raw)}`)
    process.exit(1)
  }
  return value
}

/** The first of from, from + 10, … (a few tries) free together with the port after it, for the proxy and the mock. */
async function freePair(from, upstream) {
  for (let candidate = from; candidate < from + 200 && candidate < 65535; candidate += 10) {
    // A given UPSTREAM_PORT stays where it is: the proxy's port must not be it, and the port after it need not be free.
    if (candidate === upstream) continue
    if (!(await inUse(candidate)) && (upstream !== undefined || !(await inUse(candidate + 1)))) return candidate
  }
  return undefined
}

/** The first free port from `from` on, in steps of 10, that is not `taken`. */
async function freePort(from, taken) {
  for (let candidate = from; candidate < from + 200 && candidate < 65535; candidate += 10) if (candidate !== taken && !(await inUse(candidate))) return candidate
  return undefined
}

/** Whether something already listens on 127.0.0.1:port (we try to listen, and let go at once). */
function inUse(port) {
  return new Promise((resolve) => {
    const probe = createServer()
    probe.once('error', (error) => resolve(error.code === 'EADDRINUSE' || error.code === 'EACCES'))
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(false)))
  })
}

process.on('SIGINT', () => stop('SIGINT'))
process.on('SIGTERM', () => stop('SIGTERM'))
// A closed terminal sends SIGHUP to this process, not to wrangler (its own session): stop it too. (Node resets
// SIGHUP to its default at startup, so under nohup too this process would otherwise die alone.)
process.on('SIGHUP', () => stop('SIGTERM'))
// npm passes a SIGTERM to the shell that runs this script, which exits and leaves this process (and the proxy)
// running: when that shell goes, stop.
if (process.env.npm_lifecycle_event !== undefined) {
  const parent = process.ppid
  setInterval(() => {
    if (process.ppid !== parent) stop('SIGTERM')
  }, 500).unref()
}
// Whatever else ends this process (an uncaught error), wrangler and its workerd go with it.
process.on('exit', () => {
  if (wrangler.exitCode === null) {
    try {
      process.kill(-wrangler.pid, 'SIGTERM')
    } catch {
      // Already gone.
    }
  }
})
wrangler.on('exit', (code) => {
  if (stopping) return
  console.error(`start: wrangler dev exited with ${code}`)
  upstream.close().then(() => process.exit(code ?? 1))
})
