/**
 * README "Hedged requests": "Node, Deno, Bun and Workers send a hedge exactly as the first attempt." Held in Deno, Bun
 * (their binaries from node_modules/.bin) and workerd (Miniflare) against a real node:http upstream on 127.0.0.1 (Node
 * is test/hedge-options-real-server.test.ts): the upstream holds each call's first request until its hedge arrives,
 * answers the hedge, and compares what it saw of the two: method, URL, every header, the body.
 */
import { spawn } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { build } from 'esbuild'
import { Miniflare } from 'miniflare'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { requestBody } from '../helpers.js'
import { closeServer, listen } from './harness.js'

const SRC = JSON.stringify(resolve(import.meta.dirname, '../../src/index.ts'))
const BIN = resolve(import.meta.dirname, '../../node_modules/.bin')

/** Two hedged calls against `origin`: a GET with headers, and a POST opted in with a string body. */
const CALLS = `
import { createResilientFetch, resilienceInfo } from ${SRC}
export async function calls(origin) {
  const rf = createResilientFetch({ hedge: { delay: 50, budget: false }, retry: false, fallback: false, breaker: false })
  const out = []
  for (const [path, init] of [
    ['/get?q=1', { headers: { 'x-trace': 'abc', accept: 'application/json' } }],
    ['/post?q=2', { method: 'POST', body: 'same body', headers: { 'content-type': 'text/plain', 'x-trace': 'def' }, resilience: { hedge: true } }],
  ]) {
    const response = await rf(origin + path, init)
    out.push({ path, body: await response.text(), hedged: resilienceInfo(response)?.hedged ?? false })
  }
  return out
}
`
const CLI = `
import { calls } from './calls.js'
const args = globalThis.Deno?.args ?? globalThis.process?.argv.slice(2) ?? []
console.log('RESULT ' + JSON.stringify(await calls(args[0])))
`
const WORKER = `
import { calls } from './calls.js'
export default { async fetch(request) { return Response.json(await calls(new URL(request.url).searchParams.get('origin'))) } }
`

interface Seen {
  method: string
  url: string
  headers: IncomingMessage['headers']
  body: string
}

let dir: string
let upstream: Server
let origin: string
/** By path: the requests the upstream saw, in order. */
const seen = new Map<string, Seen[]>()
const open: ServerResponse[] = []

beforeAll(async () => {
  upstream = createServer((req, res) => {
    void requestBody(req).then((body) => {
      const path = new URL(req.url!, 'http://x').pathname
      const list = seen.get(path) ?? []
      seen.set(path, list)
      list.push({ method: req.method!, url: req.url!, headers: req.headers, body })
      // The first request is held (its connection closes when the hedge wins); the hedge answers.
      if (list.length === 1) return void open.push(res)
      res.writeHead(200, { 'content-type': 'text/plain' }).end('hedge')
    })
  })
  origin = `http://127.0.0.1:${await listen(upstream)}`
  dir = await mkdtemp(join(tmpdir(), 'rf-hedge-runtimes-'))
  await writeFile(join(dir, 'calls.js'), CALLS)
  await writeFile(join(dir, 'cli-entry.js'), CLI)
  await writeFile(join(dir, 'worker-entry.js'), WORKER)
  const common = { bundle: true, format: 'esm', platform: 'neutral', target: 'es2022', logLevel: 'error' } as const
  await Promise.all([
    build({ ...common, entryPoints: [join(dir, 'cli-entry.js')], outfile: join(dir, 'cli.mjs') }),
    build({ ...common, entryPoints: [join(dir, 'worker-entry.js')], outfile: join(dir, 'worker.mjs') }),
  ])
})

afterAll(async () => {
  for (const res of open) res.destroy()
  await closeServer(upstream)
  await rm(dir, { recursive: true, force: true })
})

/** Runs the calls in `runtime`; resolves with what they returned. Bounded: 60 s. */
function inCli(runtime: 'deno' | 'bun'): Promise<unknown> {
  const args = runtime === 'deno' ? ['run', '--allow-net=127.0.0.1', '--no-prompt', '--no-config', join(dir, 'cli.mjs'), origin] : ['run', join(dir, 'cli.mjs'), origin]
  return new Promise((done, fail) => {
    const child = spawn(join(BIN, runtime), args, { cwd: dir, env: { ...process.env, NO_COLOR: '1', DENO_NO_UPDATE_CHECK: '1' }, stdio: ['ignore', 'pipe', 'pipe'] })
    let [stdout, stderr] = ['', '']
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk))
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk))
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000)
    child.on('error', fail)
    child.on('close', (code) => {
      clearTimeout(timer)
      const line = stdout.split('\n').find((l) => l.startsWith('RESULT '))
      if (line) done(JSON.parse(line.slice('RESULT '.length)))
      else fail(new Error(`${runtime} exited (${code}) without a result: ${(stderr || stdout).slice(-1000)}`))
    })
  })
}

async function inWorkerd(): Promise<unknown> {
  const miniflare = new Miniflare({ modules: true, scriptPath: join(dir, 'worker.mjs'), modulesRoot: dir, compatibilityDate: '2026-04-01', compatibilityFlags: ['enable_request_signal'] })
  try {
    return await (await miniflare.dispatchFetch(`http://worker.test/?origin=${encodeURIComponent(origin)}`)).json()
  } finally {
    await miniflare.dispose()
  }
}

it.each([
  ['Deno', () => inCli('deno')],
  ['Bun', () => inCli('bun')],
  ['workerd', inWorkerd],
] as const)('%s sends a hedge exactly as the first attempt: method, URL, headers and body', async (_runtime, run) => {
  seen.clear()
  expect(await run()).toEqual([
    { path: '/get?q=1', body: 'hedge', hedged: true },
    { path: '/post?q=2', body: 'hedge', hedged: true },
  ])
  for (const path of ['/get', '/post']) {
    const [first, hedge] = seen.get(path)!
    expect(seen.get(path)).toHaveLength(2)
    expect(hedge).toEqual(first)
  }
  expect(seen.get('/post')![0]!.body).toBe('same body')
  expect(seen.get('/get')![0]!.headers['x-trace']).toBe('abc')
})
