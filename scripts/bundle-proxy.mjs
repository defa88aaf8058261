// The Worker proxy as one ES module, for Miniflare in `npm run load` and the coordination bench.
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'

export async function bundleProxy() {
  const result = await build({
    entryPoints: [fileURLToPath(new URL('../src/worker/index.ts', import.meta.url))],
    bundle: true,
    format: 'esm',
    platform: 'neutral',
    target: 'es2022',
    write: false,
    logLevel: 'silent',
  })
  return result.outputFiles[0].text
}
