#!/usr/bin/env node
// `npm test` must leave the working tree as it found it. `snapshot` (first step of the test chain) records the
// content of every tracked file and the list of untracked, unignored files; `check` (last step) fails naming
// each file the run changed, deleted or created. Local edits made before the run are fine: only the run counts.
import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..')
// One record per checkout (worktrees share node_modules, so not there).
const RECORD = join(tmpdir(), `rf-test-tree-${createHash('sha1').update(ROOT).digest('hex').slice(0, 12)}.json`)

const git = (...args) => execFileSync('git', args, { cwd: ROOT, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 })
const list = (...args) => git(...args, '-z').split('\0').filter(Boolean)

/** Every tracked file's content hash ('deleted' when gone), and the untracked files git does not ignore. */
function tree() {
  const tracked = {}
  for (const file of list('ls-files')) {
    const path = join(ROOT, file)
    tracked[file] = existsSync(path) ? createHash('sha1').update(readFileSync(path)).digest('hex') : 'deleted'
  }
  return { tracked, untracked: list('ls-files', '--others', '--exclude-standard') }
}

function snapshot() {
  writeFileSync(RECORD, JSON.stringify(tree()))
}

function check() {
  if (!existsSync(RECORD)) {
    console.error('test-tree: no snapshot: run `node scripts/test-tree.mjs snapshot` before the tests')
    process.exit(2)
  }
  const before = JSON.parse(readFileSync(RECORD, 'utf8'))
  const after = tree()
  const changed = Object.keys(after.tracked).filter((file) => before.tracked[file] !== after.tracked[file])
  const created = after.untracked.filter((file) => !before.untracked.includes(file))
  for (const file of changed) console.error(`test-tree: the test run changed the tracked file ${file}`)
  for (const file of created) console.error(`test-tree: the test run created ${file} (neither tracked nor ignored)`)
  if (changed.length + created.length > 0) process.exit(1)
  console.log(`test-tree: ${Object.keys(after.tracked).length} tracked files as they were, no new files`)
}

const command = process.argv[2]
let inRepository = true
try {
  git('rev-parse', '--is-inside-work-tree')
} catch {
  inRepository = false
}
if (!inRepository) console.log('test-tree: not a git checkout, nothing to compare')
else if (command === 'snapshot') snapshot()
else if (command === 'check') check()
else {
  console.error('usage: node scripts/test-tree.mjs snapshot|check')
  process.exit(2)
}
