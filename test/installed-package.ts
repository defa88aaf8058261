/**
 * The package laid out as a user installs it: a temp directory (the user's project) whose node_modules/resilient-fetch
 * holds the repo's package.json (its exports and sideEffects) and a dist built as tsup.config.ts builds it (code-split
 * ESM), with ky and idb-keyval linked beside it. The caller removes `project`.
 */
import { copyFile, mkdir, mkdtemp, symlink } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { build, type Options } from 'tsup'
import config from '../tsup.config.js'

const ROOT = join(import.meta.dirname, '..')

export async function installedPackage(prefix: string): Promise<{ project: string; dist: string }> {
  const project = await mkdtemp(join(tmpdir(), prefix))
  const installed = join(project, 'node_modules/resilient-fetch')
  const dist = join(installed, 'dist')
  await mkdir(installed, { recursive: true })
  await copyFile(join(ROOT, 'package.json'), join(installed, 'package.json'))
  for (const name of ['ky', 'idb-keyval']) await symlink(join(ROOT, 'node_modules', name), join(project, 'node_modules', name))
  const entry = { index: 'src/index.ts', ky: 'src/integrations/ky.ts', 'service-worker': 'src/service-worker.ts' }
  const entries = Object.fromEntries(Object.entries(entry).map(([name, path]) => [name, join(ROOT, path)]))
  await build({ ...(config as Options), entry: entries, format: ['esm'], dts: false, clean: false, outDir: dist, config: false, silent: true })
  return { project, dist }
}
