/** `npm start` (scripts/start.mjs) on a busy port: it says so before starting anything, and names ports that are free. */
import { spawn } from 'node:child_process'
import { createServer, type Server } from 'node:net'
import { fileURLToPath } from 'node:url'
import { afterEach, expect, test } from 'vitest'

const root = fileURLToPath(new URL('..', import.meta.url))
const servers: Server[] = []

afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => new Promise((done) => server.close(done))))
})

/** Listens on 127.0.0.1:port (0: any); resolves with the port. */
function occupy(port = 0): Promise<number> {
  const server = createServer()
  servers.push(server)
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, '127.0.0.1', () => resolve((server.address() as { port: number }).port))
  })
}

function free(port: number): Promise<boolean> {
  const probe = createServer()
  return new Promise((resolve) => {
    probe.once('error', () => resolve(false))
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(true)))
  })
}

function start(env: Record<string, string>): Promise<{ code: number | null; stderr: string }> {
  const { PORT: _port, UPSTREAM_PORT: _upstream, ...inherited } = process.env
  const child = spawn(process.execPath, ['scripts/start.mjs'], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], env: { ...inherited, ...env } })
  let stderr = ''
  child.stderr.on('data', (chunk) => (stderr += String(chunk)))
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, stderr })))
}

test('a busy PORT is named, with a PORT whose port and the next are free (not merely PORT + 10, which may be busy too)', async () => {
  let port = await occupy()
  // PORT + 10 busy as well, as with a second copy of npm start that took the first suggestion.
  while (port + 11 > 65535 || !(await free(port + 10))) port = await occupy()
  await occupy(port + 10)
  const { code, stderr } = await start({ PORT: String(port) })
  expect(code).toBe(1)
  expect(stderr).toContain(`start: 127.0.0.1:${port} is in use`)
  expect(stderr).toContain('It was PORT.')
  const suggested = Number(/Pick free ports: PORT=(\d+) npm start/.exec(stderr)?.[1])
  expect(suggested).not.toBe(port + 10)
  expect(await free(suggested)).toBe(true)
  expect(await free(suggested + 1)).toBe(true)
}, 20_000)

test('with UPSTREAM_PORT set, the suggested PORT is not UPSTREAM_PORT (which start.mjs would refuse) and is free', async () => {
  let port = await occupy()
  while (port + 12 > 65535 || !(await free(port + 10)) || !(await free(port + 11))) port = await occupy()
  const upstreamPort = port + 10
  const { code, stderr } = await start({ PORT: String(port), UPSTREAM_PORT: String(upstreamPort) })
  expect(code).toBe(1)
  expect(stderr).toContain('It was PORT.')
  const suggested = Number(/Pick free ports: PORT=(\d+) npm start/.exec(stderr)?.[1])
  expect(suggested).not.toBe(upstreamPort)
  expect(await free(suggested)).toBe(true)
}, 20_000)

test('a busy UPSTREAM_PORT that you set is named with a free UPSTREAM_PORT to use instead, not a PORT (the mock would still not listen)', async () => {
  const upstreamPort = await occupy()
  let port = upstreamPort + 1
  while (port > 65535 || !(await free(port))) port = (await occupy()) + 1
  const { code, stderr } = await start({ PORT: String(port), UPSTREAM_PORT: String(upstreamPort) })
  expect(code).toBe(1)
  expect(stderr).toContain(`start: 127.0.0.1:${upstreamPort} is in use`)
  expect(stderr).toContain('It was UPSTREAM_PORT.')
  expect(stderr).not.toContain('PORT=' + String(port))
  const suggested = Number(/Pick a free port for the mock upstream: UPSTREAM_PORT=(\d+) npm start/.exec(stderr)?.[1])
  expect(suggested).not.toBe(port)
  expect(await free(suggested)).toBe(true)
}, 20_000)
