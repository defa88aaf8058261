/**
 * How the contract suite reaches each runtime from Node: esbuild bundles of the library and the suite, then
 * a page in headless Chromium, a Worker in workerd (Miniflare), or a `deno` / `bun` child process
 * (the binaries from their npm packages, in node_modules/.bin).
 */
import { spawn } from 'node:child_process'
import { copyFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { build } from 'esbuild'
import { Miniflare } from 'miniflare'
import { launchChromium, openPage, serveDirectory } from '../e2e/harness.js'
import { RESULTS_MARK, type CaseResult, type ContractEnv } from './contract.js'

const HERE = import.meta.dirname
const BIN = join(HERE, '../../node_modules/.bin')

export interface Bundles {
  /** A directory with index.html and page.js: the suite on a page. */
  pageDir: string
  /** The suite as a module Worker. */
  worker: string
  /** The suite as a script for Deno and Bun. */
  cli: string
}

/** Bundles the suite (and the library from src) for every runtime into `dir`. */
export async function bundleContract(dir: string): Promise<Bundles> {
  const common = { bundle: true, format: 'esm', target: 'es2022', logLevel: 'error' } as const
  const bundles = { pageDir: dir, worker: join(dir, 'worker.mjs'), cli: join(dir, 'cli.mjs') }
  await Promise.all([
    build({ ...common, entryPoints: [join(HERE, 'run-page.ts')], platform: 'browser', outfile: join(dir, 'page.js') }),
    build({ ...common, entryPoints: [join(HERE, 'run-worker.ts')], platform: 'neutral', outfile: bundles.worker }),
    build({ ...common, entryPoints: [join(HERE, 'run-cli.ts')], platform: 'neutral', outfile: bundles.cli }),
    copyFile(join(HERE, 'index.html'), join(dir, 'index.html')),
  ])
  return bundles
}

/** The suite on a page served from one 127.0.0.1 origin, calling the upstream on another. */
export async function runInChromium(bundles: Bundles, env: ContractEnv): Promise<CaseResult[]> {
  const [site, browser] = await Promise.all([serveDirectory(bundles.pageDir), launchChromium()])
  try {
    const { page, errors } = await openPage(browser)
    await page.goto(site.url + '/')
    await page.waitForFunction(() => document.documentElement.dataset.ready === 'true')
    const results = await page.evaluate((pageEnv) => window.runContract(pageEnv), env)
    // Network errors the suite provokes on purpose are logged by the page; anything else is a failure.
    const unexpected = errors.filter((line) => !line.includes(env.deadUrl) && !line.includes('/s/'))
    if (unexpected.length > 0) throw new Error(`the page logged errors: ${unexpected.join('; ')}`)
    return results
  } finally {
    await Promise.all([browser.close(), site.close()])
  }
}

/** The suite inside a Worker in workerd, whose fetch reaches the real upstream over loopback. */
export async function runInWorkerd(bundles: Bundles, env: ContractEnv): Promise<CaseResult[]> {
  const miniflare = new Miniflare({
    modules: true,
    scriptPath: bundles.worker,
    // Module names are relative to this root; the bundle lives outside the working directory.
    modulesRoot: dirname(bundles.worker),
    // As wrangler.toml.
    compatibilityDate: '2026-04-01',
    compatibilityFlags: ['enable_request_signal'],
  })
  try {
    const response = await miniflare.dispatchFetch('http://contract.test/', { method: 'POST', body: JSON.stringify(env) })
    const text = await response.text()
    if (!response.ok) throw new Error(`the Worker answered ${response.status}: ${text.slice(0, 500)}`)
    return JSON.parse(text) as CaseResult[]
  } finally {
    await miniflare.dispose()
  }
}

const CLI: Record<'deno' | 'bun', (script: string, env: string) => string[]> = {
  deno: (script, env) => ['run', '--allow-net=127.0.0.1', '--no-prompt', '--no-config', script, env],
  bun: (script, env) => ['run', script, env],
}

/** The suite as a `deno` or `bun` process; its results are the line after RESULTS_MARK on stdout. */
export function runInCli(runtime: 'deno' | 'bun', bundles: Bundles, env: ContractEnv): Promise<CaseResult[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(join(BIN, runtime), CLI[runtime](bundles.cli, JSON.stringify(env)), {
      // In the bundle's own directory: nothing the runtime may look for or write lands in the checkout.
      cwd: dirname(bundles.cli),
      env: { ...process.env, NO_COLOR: '1', DENO_NO_UPDATE_CHECK: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    let kept = false
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk
      // The suite is done: the process must then end by itself (a library that keeps it alive is a defect), within 10 s.
      if (!kept && stdout.includes(RESULTS_MARK)) {
        kept = true
        clearTimeout(timer)
        timer = setTimeout(() => child.kill('SIGKILL'), 10_000)
      }
    })
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk))
    // Bounded: a runtime that hangs fails its cases instead of the whole run.
    let timer = setTimeout(() => child.kill('SIGKILL'), 120_000)
    child.on('error', reject)
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      const line = stdout.split('\n').find((l) => l.startsWith(RESULTS_MARK))
      if (line && signal === 'SIGKILL') return reject(new Error(`${runtime} did not exit by itself within 10 s of the suite's end: something the library opened keeps it alive`))
      if (line) return resolve(JSON.parse(line.slice(RESULTS_MARK.length)) as CaseResult[])
      reject(new Error(`${runtime} exited (${signal ?? code}) without results: ${(stderr || stdout).slice(-1000)}`))
    })
  })
}
