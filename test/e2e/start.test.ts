/**
 * `npm start` (scripts/start.mjs) as a user runs it: the proxy under wrangler dev and the mock upstream,
 * and nothing left behind however it is stopped: a closed terminal (SIGHUP), or npm's shell going away
 * (npm passes a SIGTERM to that shell only). Wrangler runs in its own process group, so neither reaches it
 * unless start.mjs passes it on.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { createServer } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterEach, describe, expect, test } from 'vitest'
import { freePort } from './harness'

const root = fileURLToPath(new URL('../..', import.meta.url))
const started: { child: ChildProcess; port: number }[] = []

/** Processes whose command line names the proxy's port (wrangler, and workerd's socket). */
function holding(port: number): { pid: number; pgid: number; args: string }[] {
  const out = execFileSync('ps', ['-eo', 'pid=,pgid=,args='], { encoding: 'utf8' })
  return out
    .split('\n')
    .map((line) => /^\s*(\d+)\s+(\d+)\s+(.*)$/.exec(line))
    .filter((m): m is RegExpExecArray => m !== null && (m[3].includes(`--port ${port} `) || m[3].includes(`127.0.0.1:${port} `)))
    .map((m) => ({ pid: Number(m[1]), pgid: Number(m[2]), args: m[3] }))
}

/** The command lines of the processes in process group `pgid`. */
function inGroup(pgid: number): string[] {
  const out = execFileSync('ps', ['-eo', 'pgid=,args='], { encoding: 'utf8' })
  return out
    .split('\n')
    .map((line) => /^\s*(\d+)\s+(.*)$/.exec(line))
    .filter((m): m is RegExpExecArray => m !== null && Number(m[1]) === pgid)
    .map((m) => m[2])
}

/** Whether 127.0.0.1:port answers HTTP at all. */
async function answers(port: number): Promise<boolean> {
  try {
    const response = await fetch(`http://127.0.0.1:${port}/health`, { signal: AbortSignal.timeout(1_000) })
    await response.body?.cancel()
    return true
  } catch {
    return false
  }
}

/** Starts `npm start` as `command` runs it (start.mjs directly, or under a shell as npm does); resolves once it says it is ready. */
async function start(command: string, args: string[], env: Record<string, string> = {}): Promise<{ child: ChildProcess; port: number }> {
  const port = await freePort()
  const upstreamPort = await freePort()
  const child = spawn(command, args, {
    cwd: root,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, PORT: String(port), UPSTREAM_PORT: String(upstreamPort), NO_COLOR: '1', ...env },
  })
  const entry = { child, port }
  started.push(entry)
  let output = ''
  child.stdout!.on('data', (chunk) => (output += String(chunk)))
  child.stderr!.on('data', (chunk) => (output += String(chunk)))
  await expect.poll(() => output.includes('Ctrl-C stops everything'), { timeout: 45_000, interval: 200 }).toBe(true)
  expect(await answers(port)).toBe(true)
  return entry
}

afterEach(() => {
  // Whatever a failed test left: every process group that still holds a test's port.
  for (const { child, port } of started.splice(0)) {
    for (const pgid of new Set([child.pid!, ...holding(port).map((p) => p.pgid)])) {
      try {
        process.kill(-pgid, 'SIGKILL')
      } catch {
        // Gone.
      }
    }
  }
})

describe('npm start stops everything it started', () => {
  test('on SIGHUP (the terminal closed): the proxy and its workerd exit, the port is free', async () => {
    const { child, port } = await start(process.execPath, ['scripts/start.mjs'])
    expect(holding(port).length).toBeGreaterThan(0)
    const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)))
    process.kill(child.pid!, 'SIGHUP')
    expect(await exited).toBe(0)
    await expect.poll(() => holding(port).map((p) => p.args), { timeout: 10_000, interval: 200 }).toEqual([])
    expect(await answers(port)).toBe(false)
  }, 90_000)

  test("when npm's shell goes (npm passes its SIGTERM to the shell only): start.mjs, the proxy and workerd exit", async () => {
    // As npm runs a script: `sh -c "node scripts/start.mjs"`, with npm_lifecycle_event set. The `; exit` keeps sh
    // from exec-ing node, as it does not for npm either.
    const { child, port } = await start('sh', ['-c', `"${process.execPath}" scripts/start.mjs; exit $?`], { npm_lifecycle_event: 'start' })
    const shellGone = new Promise((done) => child.once('exit', done))
    process.kill(child.pid!, 'SIGTERM')
    await shellGone
    await expect.poll(() => holding(port).map((p) => p.args), { timeout: 10_000, interval: 200 }).toEqual([])
    // start.mjs itself, in the shell's process group.
    await expect.poll(() => inGroup(child.pid!), { timeout: 5_000, interval: 200 }).toEqual([])
    expect(await answers(port)).toBe(false)
  }, 90_000)

  test('stays on 127.0.0.1: wrangler does not ask the npm registry for a newer version', async () => {
    // A registry of our own, and a temporary directory without wrangler's cached answer (it asks at most hourly).
    const asked: string[] = []
    const registry = createServer((req, res) => {
      asked.push(req.url ?? '')
      res.writeHead(404).end()
    })
    await new Promise<void>((done) => registry.listen(0, '127.0.0.1', done))
    const temp = await mkdtemp(join(tmpdir(), 'rf-start-'))
    try {
      const { child } = await start(process.execPath, ['scripts/start.mjs'], { npm_registry: `http://127.0.0.1:${(registry.address() as { port: number }).port}/`, TMPDIR: temp })
      // The check runs as wrangler starts; give a late one time to arrive.
      await new Promise((r) => setTimeout(r, 1_500))
      expect(asked).toEqual([])
      const exited = new Promise((done) => child.once('exit', done))
      process.kill(child.pid!, 'SIGTERM')
      await exited
    } finally {
      registry.close()
      await rm(temp, { recursive: true, force: true })
    }
  }, 90_000)
})
