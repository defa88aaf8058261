#!/usr/bin/env node
// npm run build:demo — bundles the dashboard (demo/dashboard) for the browser into demo/dist,
// the directory `npm start` and the Worker's [assets] serve at `/`.
import { build } from 'esbuild'
import { copyFile, mkdir } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { join } from 'node:path'

const root = fileURLToPath(new URL('..', import.meta.url))
const source = join(root, 'demo/dashboard')
const STATIC_FILES = ['index.html', 'style.css']

/**
 * Builds the page; returns the output directory. Files are overwritten in place (never a
 * delete first), so a server already serving demo/dist never sees it missing.
 */
export async function buildDemo({ outdir = join(root, 'demo/dist'), minify = true, esbuildPlugins = [] } = {}) {
  await mkdir(outdir, { recursive: true })
  await build({
    absWorkingDir: root,
    entryPoints: [join(source, 'main.ts')],
    outfile: join(outdir, 'app.js'),
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: ['es2022', 'chrome111', 'firefox111', 'safari16.4'],
    minify,
    sourcemap: true,
    legalComments: 'none',
    logLevel: 'warning',
    plugins: esbuildPlugins,
  })
  await Promise.all(STATIC_FILES.map((file) => copyFile(join(source, file), join(outdir, file))))
  return outdir
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const outdir = await buildDemo()
  console.log(`dashboard built into ${outdir}`)
}
