// The one Chromium the tests and the bench launch: CHROMIUM_PATH when set, else Debian's /usr/bin/chromium
// when it is there, else the headless Chromium shipped inside the npm package @sparticuz/chromium
// (unpacked once into the temporary directory, one process at a time), so a bare machine needs no system package.
import { existsSync, mkdirSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { chromium } from 'playwright-core'

/** Where Debian installs Chromium. */
export const SYSTEM_CHROMIUM = '/usr/bin/chromium'

export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
]

/** @type {Promise<{ path: string, source: string }> | undefined} */
let found

/**
 * The Chromium to launch and where it came from (`CHROMIUM_PATH`, `system` or `@sparticuz/chromium`).
 * Memoized: the package unpacks its binary on first use, which must not run twice at once in one process.
 * @returns {Promise<{ path: string, source: string }>}
 */
export function findChromium() {
  found ??= (async () => {
    const fromEnv = process.env.CHROMIUM_PATH
    if (fromEnv) return { path: fromEnv, source: 'CHROMIUM_PATH' }
    if (existsSync(SYSTEM_CHROMIUM)) return { path: SYSTEM_CHROMIUM, source: 'system' }
    const { default: packaged } = await import('@sparticuz/chromium')
    return { path: await unpackingAlone(() => packaged.executablePath()), source: '@sparticuz/chromium' }
  })()
  return found
}

const UNPACK_LOCK = join(tmpdir(), 'chromium.unpack-lock')
const STALE_LOCK_MS = 5 * 60_000

/**
 * Runs `unpack` while holding a lock directory, so two processes (two test runs, a test run and the bench)
 * never write the shared unpacked binary at once; a lock older than five minutes was left by a killed run.
 * @template T
 * @param {() => Promise<T>} unpack
 * @returns {Promise<T>}
 */
async function unpackingAlone(unpack) {
  for (;;) {
    try {
      mkdirSync(UNPACK_LOCK)
      break
    } catch (error) {
      if (error?.code !== 'EEXIST') throw error
      const age = Date.now() - (statSync(UNPACK_LOCK, { throwIfNoEntry: false })?.mtimeMs ?? Date.now())
      if (age > STALE_LOCK_MS) rmSync(UNPACK_LOCK, { recursive: true, force: true })
      else await new Promise((resolve) => setTimeout(resolve, 250))
    }
  }
  try {
    return await unpack()
  } finally {
    rmSync(UNPACK_LOCK, { recursive: true, force: true })
  }
}

/**
 * Launches headless Chromium with playwright-core (close it when done).
 * @returns {Promise<import('playwright-core').Browser>}
 */
export async function launchChromium() {
  const { path } = await findChromium()
  return chromium.launch({ executablePath: path, args: CHROMIUM_ARGS })
}
