// The one Chromium the tests and the bench launch: CHROMIUM_PATH when set, else Debian's /usr/bin/chromium
// when it is there, else the headless Chromium shipped inside the npm package @sparticuz/chromium
// (unpacked once into the temporary directory), so a bare machine needs no system package.
import { existsSync } from 'node:fs'
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
    return { path: await packaged.executablePath(), source: '@sparticuz/chromium' }
  })()
  return found
}

/**
 * Launches headless Chromium with playwright-core (close it when done).
 * @returns {Promise<import('playwright-core').Browser>}
 */
export async function launchChromium() {
  const { path } = await findChromium()
  return chromium.launch({ executablePath: path, args: CHROMIUM_ARGS })
}
