#!/usr/bin/env node
// Runs after tsup (npm run build) and finishes the CommonJS declarations (dist/*.d.cts):
// - ky is ESM-only: its types must be read as ESM (`resolution-mode: import`), or a node16 CommonJS
//   project fails with TS1479. tsup's declaration bundler drops that attribute from the source.
// - An entry with a default export beside named ones is `.default` from require(): its docs say so.
import { readFileSync, readdirSync, writeFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const DIST = join(ROOT, 'dist')
const { name: packageName } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'))
const ESM_ONLY = ['ky']
const KY_NOTE = ' * From CommonJS this needs `require()` of ES modules (Node >= 20.19 or 22.12, or a bundler): ky is ESM-only.\n'

/** `import { A, B } from 'ky';` → a type-only import resolved as ESM from this CJS file. */
function importAsEsm(source, name) {
  const plain = new RegExp(`^import (\\{[^}]*\\}|\\* as \\w+) from '${name}';$`, 'gm')
  return source.replace(plain, (_, bindings) => `import type ${bindings} from '${name}' with { 'resolution-mode': 'import' };`)
}

/** Adds to the default export's doc how require() reaches it. */
function documentDefault(source, specifier) {
  const at = source.indexOf('\ndeclare const _default')
  if (at === -1 || !source.includes('_default as default')) return source
  const end = source.lastIndexOf('*/', at)
  if (end === -1 || source.slice(end + 2, at).trim() !== '') return source
  const note = ` From CommonJS: \`require('${specifier}').default\` (the named exports sit beside it).`
  return source.includes(note) ? source : `${source.slice(0, end).trimEnd()}${note} ${source.slice(end)}`
}

for (const file of readdirSync(DIST).filter((f) => f.endsWith('.d.cts'))) {
  const path = join(DIST, file)
  const entry = file.slice(0, -'.d.cts'.length)
  const before = readFileSync(path, 'utf8')
  let after = ESM_ONLY.reduce(importAsEsm, before)
  if (after !== before && !after.includes(KY_NOTE)) {
    // Before the doc's @example, so that editors show it as prose.
    after = after.replace(/\n \*\n \* @example\n((?: \*.*\n)*? \*\/\ndeclare function resilientKy)/, `\n *\n${KY_NOTE} *\n * @example\n$1`)
  }
  after = documentDefault(after, entry === 'index' ? packageName : `${packageName}/${entry}`)
  if (after !== before) writeFileSync(path, after)
}

const ky = readFileSync(join(DIST, 'ky.d.cts'), 'utf8')
const worker = readFileSync(join(DIST, 'worker.d.cts'), 'utf8')
if (!ky.includes("from 'ky' with { 'resolution-mode': 'import' }") || !ky.includes(KY_NOTE) || !worker.includes(".default` (the named exports")) {
  console.error('finish-types: dist/ky.d.cts or dist/worker.d.cts no longer has the shape this script expects; update scripts/finish-types.mjs')
  process.exit(1)
}
console.log(`finish-types: CommonJS declarations read ${ESM_ONLY.join(', ')} as ESM and say how require() reaches a default export`)
