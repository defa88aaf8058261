/**
 * The contract suite (./contract.ts) in five runtimes, each against its own real upstream on 127.0.0.1
 * started here in Node: Node itself, headless Chromium, workerd (Miniflare), Deno and Bun. One vitest test
 * per runtime and case; the runtimes × cases table is printed at the end.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CASES, RUNTIME_DIFFERENCES, RUNTIMES, runContract, type CaseResult, type Runtime } from './contract.js'
import { bundleContract, runInChromium, runInCli, runInWorkerd, type Bundles } from './runners.js'
import { startUpstream, type Upstream } from './upstream.js'

let dir: string
const upstreams: Upstream[] = []
const results = new Map<Runtime, Promise<CaseResult[]>>()

/** Runs the suite in `runtime` against an upstream of its own; a runtime that cannot start fails every case. */
async function resultsIn(runtime: Runtime, bundles: Bundles): Promise<CaseResult[]> {
  const upstream = await startUpstream()
  upstreams.push(upstream)
  const env = { runtime, upstream: upstream.url, deadUrl: upstream.deadUrl }
  try {
    if (runtime === 'node') return await runContract(env)
    if (runtime === 'chromium') return await runInChromium(bundles, env)
    if (runtime === 'workerd') return await runInWorkerd(bundles, env)
    return await runInCli(runtime, bundles, env)
  } catch (error) {
    const message = `${runtime} did not run the suite: ${error instanceof Error ? error.message : String(error)}`
    return CASES.map(({ name }) => ({ name, ok: false, error: message, ms: 0 }))
  }
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rf-contract-'))
  const bundles = await bundleContract(dir)
  // All five at once: each has its own upstream, and no case bounds a duration from above.
  for (const runtime of RUNTIMES) results.set(runtime, resultsIn(runtime, bundles))
}, 120_000)

afterAll(async () => {
  const settled = await Promise.all(RUNTIMES.map(async (runtime) => [runtime, await results.get(runtime)] as const))
  console.log(table(settled.filter((entry): entry is readonly [Runtime, CaseResult[]] => entry[1] !== undefined)))
  await Promise.all(upstreams.map((upstream) => upstream.close()))
  if (dir) await rm(dir, { recursive: true, force: true })
}, 120_000)

describe.each(RUNTIMES)('%s', (runtime) => {
  it.each(CASES.map(({ name }) => name))('%s', async (name) => {
    const result = (await results.get(runtime)!).find((r) => r.name === name)
    expect(result?.error ?? 'passed').toBe('passed')
  }, 180_000)
})

/** The runtimes × cases table as plain text. */
function table(rows: (readonly [Runtime, CaseResult[]])[]): string {
  const width = Math.max(...CASES.map(({ name }) => name.length))
  const header = `${'case'.padEnd(width)}  ${rows.map(([runtime]) => runtime.padEnd(10)).join(' ')}`
  const lines = CASES.map(({ name }) => {
    const cells = rows.map(([, list]) => {
      const result = list.find((r) => r.name === name)
      return (result === undefined ? '-' : result.ok ? `ok ${result.ms}ms` : 'FAIL').padEnd(10)
    })
    return `${name.padEnd(width)}  ${cells.join(' ')}`
  })
  const failures = rows.flatMap(([runtime, list]) => list.filter((r) => !r.ok).map((r) => `  ${runtime} / ${r.name}: ${r.error}`))
  const notes = RUNTIMES.flatMap((runtime) => (RUNTIME_DIFFERENCES[runtime].note ? [`  ${runtime}: ${RUNTIME_DIFFERENCES[runtime].note}`] : []))
  return ['contract suite: runtimes × cases', header, ...lines, 'where a runtime differs (RUNTIME_DIFFERENCES):', ...notes, ...(failures.length ? ['failures:', ...failures] : [])].join('\n')
}
