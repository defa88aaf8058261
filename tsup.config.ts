import { defineConfig } from 'tsup'

export default defineConfig({
  entry: {
    index: 'src/index.ts',
    idb: 'src/store/idb.ts',
    cache: 'src/store/cache.ts',
    kv: 'src/store/kv.ts',
    metrics: 'src/metrics/prometheus.ts',
    ky: 'src/integrations/ky.ts',
    worker: 'src/worker/index.ts',
    share: 'src/share/tabs.ts',
    'service-worker': 'src/service-worker.ts',
  },
  format: ['esm', 'cjs'],
  dts: true,
  clean: true,
  target: 'es2022',
  platform: 'neutral',
  external: ['ky', 'idb-keyval'],
  splitting: true,
  // Rollup's pass over each output file. Our chunks run no code on import (package.json's sideEffects
  // lists only the Service Worker entry), so the bare `import './chunk-….js'` esbuild adds per transitive chunk is dropped: left in,
  // a user's bundler warns "Ignoring this import because … was marked as having no side effects".
  // (worker.cjs keeps named exports beside `.default`, the Worker module; its types say so.)
  treeshake: { moduleSideEffects: (id: string, external: boolean) => !(external && id.startsWith('./')) },
})
