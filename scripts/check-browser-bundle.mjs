#!/usr/bin/env node
// Bundles every package entry for the browser and fails on any import of a Node built-in;
// checks the min+gzip size of `createResilientFetch` alone against SIZE_LIMITS.
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
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
  'src/store/kv.ts',
  'src/metrics/prometheus.ts',
  'src/integrations/ky.ts',
  'src/worker/index.ts',
  'src/share/tabs.ts',
  'src/service-worker.ts',
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

/**
 * Bytes of `source` bundled for the browser, minified, tree-shaken and split as a bundler splits it,
 * then gzipped (level 9): what loads up front (the entry and the chunks it imports statically);
 * chunks behind a dynamic import() are listed apart, as `lazy`.
 */
export async function minGzipSize(source, resolveDir = ROOT) {
  const found = []
  mkdirSync(resolve(ROOT, 'node_modules/.cache'), { recursive: true })
  const dir = mkdtempSync(resolve(ROOT, 'node_modules/.cache/size-'))
  try {
    const probe = resolve(dir, 'size-probe.ts')
    writeFileSync(probe, source.replaceAll("'./", `'${resolveDir}/`))
    const result = await esbuild.build({
      entryPoints: [probe],
      bundle: true,
      write: false,
      splitting: true,
      outdir: resolve(dir, 'out'),
      minify: true,
      treeShaking: true,
      platform: 'browser',
      format: 'esm',
      target: 'es2022',
      logLevel: 'silent',
      metafile: true,
      plugins: [nodeBuiltinGuard(found)],
    })
    const outputs = result.metafile.outputs
    const byPath = new Map(result.outputFiles.map((file) => [relative(process.cwd(), file.path), file.contents]))
    // The probe's own output: every chunk behind an import() has an entryPoint too, and their order is the bundler's.
    const entry = Object.keys(outputs).find((path) => outputs[path].entryPoint?.endsWith('size-probe.ts'))
    const upFront = new Set()
    for (const stack = [entry]; stack.length > 0; ) {
      const path = stack.pop()
      if (upFront.has(path)) continue
      upFront.add(path)
      for (const { path: next, kind } of outputs[path].imports) if (kind === 'import-statement' && outputs[next]) stack.push(next)
    }
    const code = Buffer.concat([...upFront].map((path) => Buffer.from(byPath.get(path))))
    // Minified bytes each source file contributes up front, largest first: where the size comes from.
    const bytes = new Map()
    for (const path of upFront) for (const [file, { bytesInOutput }] of Object.entries(outputs[path].inputs)) bytes.set(file, (bytes.get(file) ?? 0) + bytesInOutput)
    const inputs = [...bytes].map(([file, b]) => ({ file, bytes: b })).filter(({ bytes: b }) => b > 0).sort((a, b) => b.bytes - a.bytes)
    const gz = (path) => gzipSync(Buffer.from(byPath.get(path)), { level: 9 }).byteLength
    const lazy = Object.keys(outputs).filter((path) => !upFront.has(path) && path.endsWith('.js')).map((path) => ({ file: path.split('/').pop(), bytes: outputs[path].bytes, gzip: gz(path) }))
    const gzip = gzipSync(code, { level: 9 }).byteLength
    // In all: what loads up front plus every lazy chunk, each gzipped as it is served.
    const allGzip = gzip + lazy.reduce((sum, chunk) => sum + chunk.gzip, 0)
    const defaults = defaultsLoad(outputs, upFront, gz)
    return { min: code.byteLength, gzip, allGzip, defaultsGzip: gzip + defaults.gzip, defaultsChunks: defaults.chunks, nodeImports: found, inputs, lazy }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

/** The lazy chunks an output loads when it runs (its static imports, transitively), minus those in `have`. */
function closure(outputs, start, have) {
  const found = new Set()
  for (const stack = [start]; stack.length > 0; ) {
    const path = stack.pop()
    if (have.has(path) || found.has(path)) continue
    found.add(path)
    for (const { path: next, kind } of outputs[path].imports) if (kind === 'import-statement' && outputs[next]) stack.push(next)
  }
  return found
}

/**
 * What the default options load after the up-front bundle, gzipped as served: the fallback's chunk
 * (the fallback is on by default) and the store its 'auto' store picks, counted as the larger of
 * the Cache API and IndexedDB stores (a runtime loads one). Hedge, throttle and coalesce are off by
 * default: their chunks load only for an instance that turns them on, so they are not counted here;
 * nor is a share's side of the breaker stage (no share by default; the share entries bring it).
 */
function defaultsLoad(outputs, upFront, gz) {
  const entryOf = (re) => Object.keys(outputs).find((path) => re.test(outputs[path].entryPoint ?? ''))
  const fallback = entryOf(/(^|\/)fallback(\.ts|-[^/]*\.js)$/)
  if (fallback === undefined) return { gzip: 0, chunks: [] }
  const have = new Set([...upFront, ...closure(outputs, fallback, upFront)])
  const fallbackChunks = [...have].filter((path) => !upFront.has(path))
  let store = []
  // The 'auto' store loads the stores' own modules (store/indexeddb.ts, store/cache-api.ts), not their package entries;
  // bundled from dist/, they are tsup's chunks, with its hash in the name (cache-api-KV5V7AA3.js), as the fallback's is.
  for (const re of [/(^|\/)store\/indexeddb\.ts$|(^|\/)indexeddb-[^/]*\.js$/, /(^|\/)store\/cache-api\.ts$|(^|\/)cache-api-[^/]*\.js$/]) {
    const entry = entryOf(re)
    if (entry === undefined) continue
    const chunks = [...closure(outputs, entry, have)]
    const sum = (list) => list.reduce((n, path) => n + gz(path), 0)
    if (sum(chunks) > sum(store)) store = chunks
  }
  const chunks = [...fallbackChunks, ...store]
  return { gzip: chunks.reduce((n, path) => n + gz(path), 0), chunks: chunks.map((path) => ({ file: path.split('/').pop(), gzip: gz(path) })) }
}

/**
 * Bytes (min+gzip) `import { createResilientFetch }` may load: up front, and in all with the default
 * options (up front + the fallback's chunk + one store chunk). Issue 11's targets are 7 000 and
 * 11 000; these limits sit just above what the core weighs today and come down as it shrinks, so
 * nothing grows past them unnoticed (a stage that is off by default landing up front fails here).
 */
export const SIZE_LIMITS = { upFront: 12_599, defaults: 17_778 }
export const SIZE_TARGETS = { upFront: 7_000, defaults: 11_000 }

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
    console.log(`      loaded later, on first use (dynamic import): ${size.lazy.map(({ file, bytes, gzip }) => `${file} ${bytes} B min ${gzip} B gzip`).join(', ') || 'nothing'}`)
    console.log(`      in all with the default options (up front + ${size.defaultsChunks.map(({ file, gzip }) => `${file} ${gzip} B`).join(' + ')}): ${size.defaultsGzip} B min+gzip (${kb(size.defaultsGzip)})`)
    console.log(`      every chunk, the stages off by default included: ${size.allGzip} B min+gzip (${kb(size.allGzip)})`)
    for (const [what, bytes] of [['upFront', size.gzip], ['defaults', size.defaultsGzip]]) {
      const over = bytes > SIZE_LIMITS[what]
      if (over) failed = true
      console[over ? 'error' : 'log'](`${over ? 'FAIL' : 'ok  '}  ${what}: ${bytes} B, limit ${SIZE_LIMITS[what]} B (target ${SIZE_TARGETS[what]} B)`)
    }
  } else {
    console.log('size  skipped: src/index.ts is not written yet')
  }

  if (failed) {
    console.error('check-browser-bundle: Node built-ins found, a bundle failed, or the core grew past its size limit: src must run in browsers and workerd, and stay small')
    process.exit(1)
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main()
