/**
 * The contract suite's upstream: a real node:http server on 127.0.0.1, started in Node, outside the runtime
 * under test. CORS on every answer (a Chromium page calls it from another origin). Each scenario
 * (`/s/<id>`) answers from a script the suite posts, and counts what the server saw: requests, requests in
 * flight, the most in flight at once, and requests whose connection closed before their answer was sent.
 *
 *   POST /_control/script?s=<id>   body: JSON Step[]; request n gets step n (the last one repeats)
 *   GET  /_control/stats?s=<id>    ScenarioStats
 *   POST /_control/release?s=<id>[&n=<count>]  answers the held requests of the scenario (the first n; without n, also ends the bodies that stall)
 *   ANY  /s/<id>[?…]               answered by the script; OPTIONS (preflights) are never counted
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { closeServer, freePort, listen } from '../e2e/harness.js'
import type { ScenarioStats, Step } from './contract.js'

interface Held {
  step: Step
  res: ServerResponse
  echo: Echo
}

interface Echo {
  method: string
  path: string
  body: string
  probe: string | null
}

interface Scenario {
  script: Step[]
  stats: ScenarioStats
  held: Held[]
  /** Answers whose body stalls: release() ends them. */
  stalled: ServerResponse[]
}

export interface Upstream {
  /** Base URL without trailing slash, e.g. http://127.0.0.1:41234 */
  url: string
  /** A URL on 127.0.0.1 where nothing listens: connecting is refused. */
  deadUrl: string
  close(): Promise<void>
}

const CORS = {
  'access-control-allow-origin': '*',
  // Retry-After and our own headers are not CORS-safelisted: a page reads them only when exposed.
  'access-control-expose-headers': '*',
}

/** Starts the upstream on a free port of 127.0.0.1. */
export async function startUpstream(): Promise<Upstream> {
  const scenarios = new Map<string, Scenario>()
  const scenario = (id: string): Scenario => {
    let found = scenarios.get(id)
    if (found === undefined) {
      found = { script: [{}], held: [], stalled: [], stats: { requests: 0, inFlight: 0, maxInFlight: 0, closedEarly: 0, arrivals: [] } }
      scenarios.set(id, found)
    }
    return found
  }
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1')
    if (req.method === 'OPTIONS') return void res.writeHead(204, { ...CORS, ...PREFLIGHT }).end()
    const id = url.searchParams.get('s') ?? ''
    if (url.pathname.startsWith('/s/')) return void answer(scenario(url.pathname.slice(3)), req, res, url)
    if (url.pathname === '/_control/script') return void readBody(req).then((body) => setScript(scenario(id), body, res))
    if (url.pathname === '/_control/stats') return void json(res, scenario(id).stats)
    if (url.pathname === '/_control/release') return void json(res, { released: release(scenario(id), Number(url.searchParams.get('n') ?? Infinity)) })
    res.writeHead(404, CORS).end('no such route')
  })
  const port = await listen(server)
  return { url: `http://127.0.0.1:${port}`, deadUrl: `http://127.0.0.1:${await freePort()}/refused`, close: () => closeServer(server) }
}

const PREFLIGHT = {
  'access-control-allow-methods': '*',
  // Authorization is never covered by the wildcard (Fetch): it is named.
  'access-control-allow-headers': '*, authorization',
  'access-control-max-age': '600',
}

/** Counts the request, then sends, delays or holds the answer its step says. */
async function answer(scenario: Scenario, req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
  const { stats, script } = scenario
  const step = script[Math.min(stats.requests, script.length - 1)]!
  stats.requests++
  stats.arrivals.push({ path: url.pathname + url.search, at: Date.now(), referer: headerOf(req, 'referer') })
  stats.inFlight++
  stats.maxInFlight = Math.max(stats.maxInFlight, stats.inFlight)
  res.on('close', () => {
    stats.inFlight--
    if (!res.writableFinished) stats.closedEarly++
  })
  const echo: Echo = { method: req.method ?? '', path: url.pathname + url.search, body: await readBody(req), probe: headerOf(req, 'x-probe') }
  if (step.hold) return void scenario.held.push({ step, res, echo })
  if (step.delay) await new Promise((resolve) => setTimeout(resolve, step.delay))
  send(scenario, res, step, echo)
}

function send(scenario: Scenario, res: ServerResponse, step: Step, echo: Echo): void {
  if (res.destroyed) return
  const body = step.body ?? JSON.stringify(echo)
  res.writeHead(step.status ?? 200, step.statusText ?? '', { 'content-type': 'text/plain', ...CORS, ...step.headers })
  // A body that stalls after its first bytes: the answer never ends, until the client closes the connection or release() ends it.
  if (!step.stall) return void res.end(body)
  res.write(body)
  scenario.stalled.push(res)
}

/** Answers the first `count` held requests; releasing them all also ends the bodies that stall. */
function release(scenario: Scenario, count: number): number {
  const held = scenario.held.splice(0, count)
  for (const { step, res, echo } of held) send(scenario, res, step, echo)
  if (count === Infinity) for (const res of scenario.stalled.splice(0)) if (!res.destroyed) res.end()
  return held.length
}

function setScript(scenario: Scenario, body: string, res: ServerResponse): void {
  const script = JSON.parse(body) as Step[]
  if (!Array.isArray(script) || script.length === 0) return void res.writeHead(400, CORS).end('a script is a non-empty array of steps')
  scenario.script = script
  json(res, { steps: script.length })
}

function json(res: ServerResponse, value: unknown): void {
  res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store', ...CORS }).end(JSON.stringify(value))
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')))
    req.on('error', reject)
  })
}

function headerOf(req: IncomingMessage, name: string): string | null {
  const value = req.headers[name]
  return typeof value === 'string' ? value : null
}
