/**
 * Coalescing in workerd across incoming requests: a Worker keeps one resilient fetch per isolate, so an
 * identical GET of one incoming request may join another's. workerd cancels a request whose code waits on
 * nothing of its own ("hung"): the joined caller must keep a timer of its own while it waits.
 */
import { createServer, type Server } from 'node:http'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { build } from 'esbuild'
import { Miniflare } from 'miniflare'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { closeServer, listen } from './harness.js'

const WORKER = `
import { createResilientFetch } from ${JSON.stringify(resolve(import.meta.dirname, '../../src/index.ts'))}
const rf = createResilientFetch({ coalesce: true, fallback: false, retry: false })
export default {
  async fetch(request) {
    const target = new URL(request.url).searchParams.get('target')
    const response = await rf(target)
    return Response.json({ status: response.status, body: await response.text() })
  },
}
`

let dir: string
let upstream: Server
let origin: string
let requests = 0

beforeAll(async () => {
  // Answers after 300 ms: long enough for the second incoming request to join the first's.
  upstream = createServer((_req, res) => void setTimeout(() => res.end(`answer ${++requests}`), 300))
  origin = `http://127.0.0.1:${await listen(upstream)}`
  dir = await mkdtemp(join(tmpdir(), 'rf-workerd-coalesce-'))
  await writeFile(join(dir, 'entry.js'), WORKER)
  await build({ entryPoints: [join(dir, 'entry.js')], bundle: true, format: 'esm', platform: 'neutral', target: 'es2022', outfile: join(dir, 'worker.mjs'), logLevel: 'error' })
})

afterAll(async () => {
  await closeServer(upstream)
  if (dir) await rm(dir, { recursive: true, force: true })
})

it('an identical GET of another incoming request joins the first one and is answered, not cancelled as hung', async () => {
  const miniflare = new Miniflare({ modules: true, scriptPath: join(dir, 'worker.mjs'), modulesRoot: dir, compatibilityDate: '2026-04-01', compatibilityFlags: ['enable_request_signal'] })
  try {
    const url = `http://worker.test/?target=${encodeURIComponent(`${origin}/me`)}`
    const answered = async (response: ReturnType<Miniflare['dispatchFetch']>) => {
      const r = await response
      return { status: r.status, text: await r.text() }
    }
    const first = answered(miniflare.dispatchFetch(url))
    // The first incoming request's GET is out (the upstream holds it 300 ms) when the second arrives.
    await new Promise((r) => setTimeout(r, 100))
    const second = answered(miniflare.dispatchFetch(url))
    const expected = { status: 200, text: JSON.stringify({ status: 200, body: 'answer 1' }) }
    expect(await first).toEqual(expected)
    expect(await second).toEqual(expected)
    expect(requests).toBe(1)
  } finally {
    await miniflare.dispose()
  }
})
