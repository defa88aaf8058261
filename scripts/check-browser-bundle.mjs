#!/usr/bin/env node
// Bundles every package entry for the browser and fails on any import of a Node built-in;
// prints the min+gzip size of `createResilientFetch` alone (informative: never a failure).
import { existsSync } from 'node:fs'
import { builtinModules } from 'node:module'
import { dirname, relative, resolve } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { gzipSync } from 'node:zlib'
import * as esbuild from 'esbuild'

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..')

export const ENTRIES = [
  'src/index.ts',
  'src/store/idb.ts',
  'src/store/cache.ts',
  'src/metrics/prometheus.ts',
  'src/integrations/ky.ts',
  'src/worker/index.ts',
]

const escape = (s) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')
const BUILTIN = new RegExp(`^(?:node:.*|(?:${builtinModules.map(escape).join('|')})(?:/.*)?)$`)

/** An esbuild plugin that records every import of a Node built-in instead of resolving it. */
export function nodeBuiltinGuard(found) {
  return {
    name: 'node-builtin-guard',
    setup(build) {
      build.onResolve({ filter: BUILTIN }, (args) => {
        found.push({ path: args.path, importer: relative(ROOT, args.importer) || '(entry)' })
        return { path: args.path, external: true }
      })
      // workerd's own modules are not Node's: the Worker entry may use them.
      build.onResolve({ filter: /^cloudflare:/ }, (args) => ({ path: args.path, external: true }))
    },
  }
}

/** Node built-ins imported anywhere in the browser bundle of `entry` (dependencies included). */
export async function nodeImportsOf(entry) {
  const found = []
  await esbuild.build({
    entryPoints: [resolve(ROOT, entry)],
    bundle: true,
    write: false,
    platform: 'browser',
    format: 'esm',
    target: 'es2022',
    logLevel: 'silent',
    plugins: [nodeBuiltinGuard(found)],
  })
  return found
}

/** Bytes of `source` bundled for the browser, minified and tree-shaken, then gzipped (level 9). */
export async function minGzipSize(source, resolveDir = ROOT) {
  const found = []
  const result = await esbuild.build({
    stdin: { contents: source, resolveDir, loader: 'ts', sourcefile: 'size-probe.ts' },
    bundle: true,
    write: false,
    minify: true,
    treeShaking: true,
    platform: 'browser',
    format: 'esm',
    target: 'es2022',
    logLevel: 'silent',
    metafile: true,
    plugins: [nodeBuiltinGuard(found)],
  })
  const code = result.outputFiles[0].contents
  // Minified bytes each source file contributes, largest first: where the size comes from.
  const inputs = Object.entries(Object.values(result.metafile.outputs)[0].inputs)
    .map(([file, { bytesInOutput }]) => ({ file, bytes: bytesInOutput }))
    .filter(({ bytes }) => bytes > 0)
    .sort((a, b) => b.bytes - a.bytes)
  return { min: code.byteLength, gzip: gzipSync(code, { level: 9 }).byteLength, nodeImports: found, inputs }
}

export const kb = (bytes) => `${(bytes / 1000).toFixed(2)} kB / ${(bytes / 1024).toFixed(2)} KiB`

async function main() {
  let failed = false
  for (const entry of ENTRIES) {
    if (!existsSync(resolve(ROOT, entry))) {
      console.log(`skip  ${entry} (not written yet)`)
      continue
    }
    let found
    try {
      found = await nodeImportsOf(entry)
    } catch (error) {
      failed = true
      console.error(`FAIL  ${entry} does not bundle for the browser:\n${error.errors?.map((e) => `  ${e.location?.file ?? ''}:${e.location?.line ?? ''} ${e.text}`).join('\n') ?? error}`)
      continue
    }
    if (found.length === 0) {
      console.log(`ok    ${entry}`)
      continue
    }
    failed = true
    for (const { path, importer } of found) console.error(`FAIL  ${entry}: ${importer} imports the Node built-in '${path}'`)
  }

  if (existsSync(resolve(ROOT, 'src/index.ts'))) {
    const size = await minGzipSize(`export { createResilientFetch } from './src/index.ts'`)
    console.log(`size  createResilientFetch for the browser: ${size.min} B min, ${size.gzip} B min+gzip (${kb(size.gzip)})`)
    console.log(`      minified bytes by source: ${size.inputs.map(({ file, bytes }) => `${file.replace(/^node_modules\//, '')} ${bytes}`).join(', ')}`)
  } else {
    console.log('size  skipped: src/index.ts is not written yet')
  }

  if (failed) {
    console.error('check-browser-bundle: Node built-ins found (or a bundle failed): src must run in browsers and workerd')
    process.exit(1)
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main()
