#!/usr/bin/env node
// Checks the package as npm publishes it (npm run check:types; builds first). Packs dist into a temp
// dir, then on that tarball: LICENSE is in it; a user's esbuild bundle prints no warning; consumer
// projects type-check (skipLibCheck: false) in every runtime's lib × module resolution × module
// format, each importing every subpath of package.json `exports`; publint; attw. Writes nothing in
// the repo.
import { execFileSync, spawnSync } from 'node:child_process'
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, realpathSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { dirname, join, relative, resolve, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import * as esbuild from 'esbuild'
import ts from 'typescript'
import { publint } from 'publint'
import { formatMessage } from 'publint/utils'

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const require = createRequire(import.meta.url)
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'))

/** Each runtime a consumer may target: its lib and the ambient types that provide fetch and friends. */
const ENVIRONMENTS = {
  workers: { lib: ['ES2022'], types: ['@cloudflare/workers-types'], fixtures: ['usage', 'workers'] },
  node: { lib: ['ES2022'], types: ['node'], fixtures: ['usage'] },
  dom: { lib: ['ES2022', 'DOM', 'DOM.Iterable'], types: [], fixtures: ['usage'] },
}

/** Module settings and file extension of each resolution × format; bundler CJS is `module: preserve` with require(). */
const MODES = [
  { resolution: 'bundler', format: 'esm', module: 'esnext', ext: '.ts' },
  { resolution: 'bundler', format: 'cjs', module: 'preserve', ext: '.cts' },
  { resolution: 'node16', format: 'esm', module: 'node16', ext: '.mts' },
  { resolution: 'node16', format: 'cjs', module: 'node16', ext: '.cts' },
  { resolution: 'nodenext', format: 'esm', module: 'nodenext', ext: '.mts' },
  { resolution: 'nodenext', format: 'cjs', module: 'nodenext', ext: '.cts' },
]

/** Packages whose own .d.ts fail under some lib whatever we ship: their errors are printed, not counted. */
const UPSTREAM = ['ky']

/** Packages a consumer project has installed besides ours: our dependencies, peers and the ambient types. */
const CONSUMER_PACKAGES = [...Object.keys(pkg.dependencies ?? {}), ...Object.keys(pkg.peerDependencies ?? {}), '@types/node', 'undici-types', '@cloudflare/workers-types']

function fail(message) {
  console.error(`check-types: ${message}`)
  process.exit(1)
}

/** Every subpath a user can import, from `exports` (so a new entry is covered without touching this file). */
function subpaths() {
  return Object.keys(pkg.exports)
    .filter((key) => key !== './package.json')
    .map((key) => (key === '.' ? pkg.name : `${pkg.name}/${key.slice(2)}`))
}

/** Refuses a dist older than src: the check would pass or fail on what is not shipped. */
function assertFreshDist() {
  const newest = (dir) =>
    readdirSync(dir, { withFileTypes: true, recursive: true })
      .filter((entry) => entry.isFile())
      .reduce((max, entry) => Math.max(max, statSync(join(entry.parentPath, entry.name)).mtimeMs), 0)
  if (!existsSync(join(ROOT, 'dist'))) fail('dist/ is missing: run `npm run build` first')
  const oldestEntry = Math.min(...readdirSync(join(ROOT, 'dist')).map((name) => statSync(join(ROOT, 'dist', name)).mtimeMs))
  if (oldestEntry < newest(join(ROOT, 'src'))) fail('dist/ is older than src/: run `npm run build` first')
}

/** npm pack into `dir`; returns the tarball's path and the files it holds. */
function pack(dir) {
  const out = execFileSync('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], { cwd: ROOT, encoding: 'utf8', shell: process.platform === 'win32' })
  const [{ filename, files }] = JSON.parse(out)
  return { tarball: join(dir, filename), files: files.map((f) => f.path) }
}

/** A node_modules with the unpacked tarball as `resilient-fetch` and links to the other packages. */
function installConsumer(dir, tarball) {
  const ours = join(dir, 'node_modules', pkg.name)
  mkdirSync(ours, { recursive: true })
  execFileSync('tar', ['-xzf', tarball, '-C', ours, '--strip-components=1'])
  for (const name of CONSUMER_PACKAGES) {
    const target = realpathSync(join(ROOT, 'node_modules', name))
    mkdirSync(dirname(join(dir, 'node_modules', name)), { recursive: true })
    symlinkSync(target, join(dir, 'node_modules', name), 'junction')
  }
  return ours
}

/** The consumer source that imports every subpath in the mode's syntax (ES import, or import = require). */
function importEverySubpath(mode) {
  const lines = subpaths().map((spec, i) =>
    mode.format === 'cjs' && mode.resolution === 'bundler' ? `import m${i} = require('${spec}')` : `import * as m${i} from '${spec}'`,
  )
  return `${lines.join('\n')}\nexport const modules = [${subpaths().map((_, i) => `m${i}`).join(', ')}]\n`
}

/** Parsed lib and @types files, shared between programs: parsing workers-types once, not 18 times. */
function cachingHost(options, cache) {
  const host = ts.createCompilerHost(options)
  const parse = host.getSourceFile
  host.getSourceFile = (fileName, languageVersion, ...rest) => {
    if (!fileName.replaceAll(sep, '/').includes('/node_modules/')) return parse(fileName, languageVersion, ...rest)
    const key = `${fileName}|${options.module}|${JSON.stringify(languageVersion, (k, v) => (typeof v === 'function' ? undefined : v))}`
    if (!cache.has(key)) cache.set(key, parse(fileName, languageVersion, ...rest))
    return cache.get(key)
  }
  return host
}

/** Type-checks one consumer project; returns our diagnostics and the upstream packages' own. */
function checkConsumer(dir, env, mode, cache) {
  const project = join(dir, `${env}-${mode.resolution}-${mode.format}`)
  mkdirSync(project)
  const { fixtures, ...libAndTypes } = ENVIRONMENTS[env]
  const files = [join(project, `every-subpath${mode.ext}`), ...fixtures.map((name) => join(project, `${name}${mode.ext}`))]
  writeFileSync(files[0], importEverySubpath(mode))
  for (const name of fixtures) cpSync(join(ROOT, `test/types/${name}.ts`), join(project, `${name}${mode.ext}`))
  const compilerOptions = { ...libAndTypes, module: mode.module, moduleResolution: mode.resolution, target: 'ES2022', strict: true, skipLibCheck: false, noEmit: true }
  writeFileSync(join(project, 'tsconfig.json'), JSON.stringify({ compilerOptions, files: files.map((f) => relative(project, f)) }, null, 2))
  const config = ts.getParsedCommandLineOfConfigFile(join(project, 'tsconfig.json'), {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: (d) => fail(ts.flattenDiagnosticMessageText(d.messageText, ' ')) })
  if (config.errors.length > 0) fail(ts.formatDiagnostics(config.errors, formatHost(dir)))
  const options = config.options
  const program = ts.createProgram({ rootNames: files, options, host: cachingHost(options, cache) })
  const diagnostics = ts.getPreEmitDiagnostics(program)
  const upstream = (d) => UPSTREAM.some((name) => d.file?.fileName.replaceAll(sep, '/').includes(`/node_modules/${name}/`))
  return { ours: diagnostics.filter((d) => !upstream(d)), upstream: diagnostics.filter(upstream) }
}

function formatHost(dir) {
  return { getCanonicalFileName: (f) => f, getCurrentDirectory: () => dir, getNewLine: () => '\n' }
}

/** One line per diagnostic, paths relative to the consumer root (links shown as the package name). */
function describe(diagnostics, dir) {
  return diagnostics.map((d) => {
    const where = d.file ? `${relative(dir, d.file.fileName).replace(/^.*node_modules[/\\]/, '')}:${d.file.getLineAndCharacterOfPosition(d.start ?? 0).line + 1}` : '(global)'
    return `      ${where} TS${d.code}: ${ts.flattenDiagnosticMessageText(d.messageText, ' ')}`
  })
}

function runMatrix(dir) {
  const cache = new Map()
  let failed = 0
  console.log(`Type matrix: ${subpaths().length} subpaths (${subpaths().join(', ')}), skipLibCheck: false, TypeScript ${ts.version}`)
  console.log(`  ${'lib'.padEnd(8)} ${'resolution'.padEnd(10)} ${'format'.padEnd(6)} result`)
  for (const env of Object.keys(ENVIRONMENTS)) {
    for (const mode of MODES) {
      const { ours, upstream } = checkConsumer(dir, env, mode, cache)
      const note = upstream.length > 0 ? ` (+${upstream.length} in ${UPSTREAM.join('/')}'s own types, not counted)` : ''
      console.log(`  ${env.padEnd(8)} ${mode.resolution.padEnd(10)} ${mode.format.padEnd(6)} ${ours.length === 0 ? 'ok' : `FAIL ${ours.length} error(s)`}${note}`)
      for (const line of describe(ours, dir)) console.log(line)
      for (const line of describe(upstream, dir)) console.log(line.replace('      ', '      upstream: '))
      if (ours.length > 0) failed++
    }
  }
  return failed
}

async function runPublint(packageDir) {
  const { messages, pkg: packed } = await publint({ pkgDir: packageDir, pack: false, strict: true })
  console.log(`publint: ${messages.length === 0 ? 'no issues' : `${messages.length} issue(s)`}`)
  for (const message of messages) console.log(`  ${message.type}: ${formatMessage(message, packed, { color: false })}`)
  return messages.filter((m) => m.type !== 'suggestion').length
}

/**
 * A user's esbuild bundle of every subpath, by import and by require(): it must print no warning.
 * The package is linked (npm link, workspaces): esbuild hides the warnings of files under node_modules.
 */
async function bundleSilently(dir, packageDir) {
  const linked = join(dir, 'linked')
  const outsideNodeModules = join(dir, 'linked-package')
  cpSync(packageDir, outsideNodeModules, { recursive: true })
  mkdirSync(join(linked, 'node_modules'), { recursive: true })
  symlinkSync(outsideNodeModules, join(linked, 'node_modules', pkg.name), 'junction')
  const specs = subpaths()
  const sources = {
    import: specs.map((spec, i) => `import * as m${i} from '${spec}'\nconsole.log(m${i})`).join('\n'),
    require: specs.map((spec) => `console.log(require('${spec}'))`).join('\n'),
  }
  let warnings = 0
  for (const [style, contents] of Object.entries(sources)) {
    const result = await esbuild.build({
      stdin: { contents, resolveDir: linked, sourcefile: `bundle-by-${style}.js` },
      bundle: true,
      write: false,
      format: 'esm',
      platform: 'browser',
      external: ['cloudflare:*'],
      logLevel: 'silent',
    })
    const messages = await esbuild.formatMessages(result.warnings, { kind: 'warning', color: false })
    console.log(`esbuild bundle (by ${style}): ${result.warnings.length} warning(s)`)
    for (const message of messages) console.log(message.replace(/^/gm, '  '))
    warnings += result.warnings.length
  }
  return warnings
}

/** attw on the tarball npm pack made (what `attw --pack` does), node10 resolution ignored. */
function runAttw(tarball) {
  const cliPackage = require.resolve('@arethetypeswrong/cli/package.json')
  const bin = join(dirname(cliPackage), JSON.parse(readFileSync(cliPackage, 'utf8')).bin.attw)
  const result = spawnSync(process.execPath, [bin, tarball, '--profile', 'node16', '--format', 'table-flipped', '--no-color', '--no-emoji'], { encoding: 'utf8' })
  console.log(`attw (--profile node16):\n${result.stdout}${result.stderr}`)
  return result.status === 0 ? 0 : 1
}

async function main() {
  assertFreshDist()
  const dir = mkdtempSync(join(tmpdir(), 'resilient-fetch-types-'))
  // On every exit, fail() and an interrupt included.
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }))
  for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => process.exit(130))
  const { tarball, files } = pack(dir)
  const license = files.includes('LICENSE') ? 0 : 1
  console.log(`npm pack: ${files.length} files${license ? ', LICENSE MISSING' : ', LICENSE included'}`)
  const packageDir = installConsumer(dir, tarball)
  const bundle = await bundleSilently(dir, packageDir)
  const matrix = runMatrix(dir)
  const lint = await runPublint(packageDir)
  const attw = runAttw(tarball)
  if (matrix + lint + attw + license + bundle > 0) {
    fail(`${matrix} consumer project(s), ${lint} publint, ${attw} attw, ${bundle} esbuild warning(s) and ${license} LICENSE failure(s)`)
  }
  console.log('check-types: ok')
}

await main()
